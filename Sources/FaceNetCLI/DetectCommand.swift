import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find faces with MTCNN: boxes [x, y, width, height], confidence and five landmarks per face, largest first.")

    @Argument(help: "Image files or directories of images (.jpg, .jpeg, .png, .webp).")
    var images: [String]

    /// `--json`: one object per image, `{"file", "faces": [{"box", "confidence", "landmarks"}]}`.
    @OptionGroup var output: OutputOptions

    @Option(help: "Write each photo with its boxes and landmarks drawn into this directory (as <name>.<format>).")
    var draw: String?

    @Option(help: "Write each face, aligned and resized to --crop-size, into this directory (as <name>_face<N>.<format>, N from 0, largest first).")
    var crops: String?

    @Option(help: "File format of --draw and --crops: jpg (JPEG, quality 90) or png (lossless).")
    var format: ImageFileFormat = .jpg

    @Option(help: "Side of the square --crops images, pixels.")
    var cropSize: Int = 160

    @Option(help: "Alignment of --crops: none, or eyes (rotate so the eyes are level).")
    var align: FaceAlignment = .none

    @Option(help: "Pixels added to every side of a face box in --crops.")
    var margin: Int = 16

    @Option(help: "Directory holding pnet/rnet/onet .json + .h5 (default: the nets built into facenet).")
    var mtcnn: String?

    @Option(help: "Smallest face side searched, pixels.")
    var minFaceSize: Float = 20

    @Option(help: "Pyramid scale factor.")
    var scaleFactor: Float = 0.709

    @Option(help: "P-, R- and O-Net face thresholds, comma-separated.")
    var thresholds: String = "0.6,0.7,0.8"

    @OptionGroup var check: WeightsCheckOptions

    @OptionGroup var engine: EngineFlags

    func validate() throws {
        guard cropSize >= 1, cropSize <= 4096 else { throw ValidationError("--crop-size must be in 1...4096 pixels") }
        guard margin >= 0 else { throw ValidationError("--margin must not be negative") }
        guard minFaceSize >= 1 else { throw ValidationError("--min-face-size must be at least 1") }
        guard scaleFactor > 0.1, scaleFactor < 1 else { throw ValidationError("--scale-factor must be in (0.1, 1)") }
        _ = try parsedThresholds()
    }

    func parsedThresholds() throws -> [Float] {
        let values = thresholds.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw ValidationError("--thresholds needs three numbers in [0, 1), e.g. 0.6,0.7,0.8")
        }
        return values
    }

    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        var options = MTCNNOptions()
        options.minFaceSize = minFaceSize
        options.scaleFactor = scaleFactor
        let t = try parsedThresholds()
        (options.pnetThreshold, options.rnetThreshold, options.onetThreshold) = (t[0], t[1], t[2])
        let detector = try MTCNN(directory: mtcnn, options: options, verification: check.verification,
                                 engineOptions: try engine.engineOptions())
        check.warnAboutMismatches(detector.models)
        let files = expandImagePaths(images)
        guard !files.isEmpty else {
            throw ValidationError("no images (.jpg, .jpeg, .png, .webp) found in \(images.joined(separator: ", "))")
        }
        for directory in [draw, crops].compactMap({ $0 }) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw FaceNetError.unwritableFile(path: directory, reason: "cannot make the output directory: \(error.localizedDescription)")
            }
        }
        var failures = 0
        let progress = progressOptions.reporter(total: files.count, what: "detected")
        for (index, file) in files.enumerated() {
            defer { progress.update(index + 1) }
            progress.clear()  // results go to stdout, which shares the terminal with the bar
            do {
                let image = try ImageDecoder.decode(path: file)
                let faces: [DetectedFace]
                do {
                    faces = try detector.detect(image)
                } catch let error as FaceNetError {
                    if case .invalidArgument(let reason) = error { throw FaceNetError.invalidImage(path: file, reason: reason) }
                    throw error
                }
                if output.json {
                    output.emit(.object([("file", .string(file)), ("faces", .array(faces.map { faceJSON($0) }))]))
                } else {
                    print(Self.textLines(file: file, faces: faces))
                }
                let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                if let draw {
                    try format.write(FaceDrawing.draw(faces, on: image), to: (draw as NSString).appendingPathComponent(stem))
                }
                if let crops {
                    // The crop the embedding sees: box + margin, aligned, Pillow-bilinear to the size.
                    for (n, face) in faces.enumerated() {
                        let crop = try FaceCrop.extract(image, face: face, margin: margin, alignment: align)
                            .resized(width: cropSize, height: cropSize, filter: .bilinearAA)
                        try format.write(crop, to: (crops as NSString).appendingPathComponent("\(stem)_face\(n)"))
                    }
                }
            } catch {
                failures += 1
                output.fail(file: file, error)
            }
        }
        if failures > 0 {
            printError("\(failures) of \(files.count) images failed")
            throw ExitCode(1)
        }
    }

    static func point(_ p: FacePoint) -> String {
        "[\(Int(p.x.rounded(.toNearestOrEven))), \(Int(p.y.rounded(.toNearestOrEven)))]"
    }

    static func textLines(file: String, faces: [DetectedFace]) -> String {
        var lines = ["\(file): \(faces.count) face\(faces.count == 1 ? "" : "s")"]
        for face in faces {
            let l = face.landmarks
            lines.append("  box \(face.box.roundedXYWH) confidence \(String(format: "%.4f", face.confidence)) "
                + "eyes \(point(l.leftEye)) \(point(l.rightEye)) nose \(point(l.nose)) mouth \(point(l.mouthLeft)) \(point(l.mouthRight))")
        }
        return lines.joined(separator: "\n")
    }
}

/// The image files `detect` writes.
enum ImageFileFormat: String, ExpressibleByArgument, CaseIterable {
    case jpg, png

    /// Writes `image` to `base` + "." + the format's extension.
    func write(_ image: RGBImage, to base: String) throws {
        switch self {
        case .jpg: try ImageEncoder.writeJPEG(image, to: base + ".jpg")
        case .png: try ImageEncoder.writePNG(image, to: base + ".png")
        }
    }
}
