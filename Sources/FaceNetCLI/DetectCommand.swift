import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find faces with MTCNN: boxes [x, y, width, height], confidence and five landmarks per face, largest first.")

    @Argument(help: "Image files or directories of images (.jpg, .jpeg, .png).")
    var images: [String]

    @Flag(help: "One JSON object per image: {\"file\", \"faces\": [{\"box\", \"confidence\", \"landmarks\"}]} or {\"file\", \"error\"}.")
    var json = false

    @Option(help: "Write each photo with its boxes and landmarks drawn into this directory (as <name>.jpg).")
    var draw: String?

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
        guard !files.isEmpty else { throw ValidationError("no images found in \(images)") }
        if let draw { try FileManager.default.createDirectory(atPath: draw, withIntermediateDirectories: true) }
        var failures = 0
        for file in files {
            do {
                let image = try ImageDecoder.decode(path: file)
                let faces: [DetectedFace]
                do {
                    faces = try detector.detect(image)
                } catch let error as FaceNetError {
                    if case .invalidArgument(let reason) = error { throw FaceNetError.invalidImage(path: file, reason: reason) }
                    throw error
                }
                print(json ? Self.jsonLine(file: file, faces: faces) : Self.textLines(file: file, faces: faces))
                if let draw {
                    let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension + ".jpg"
                    try ImageEncoder.writeJPEG(FaceDrawing.draw(faces, on: image), to: (draw as NSString).appendingPathComponent(name))
                }
            } catch {
                failures += 1
                printError("\(error)")
                if json { print("{\"file\": \(jsonString(file)), \"error\": \(jsonString(String(describing: error)))}") }
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

    static func jsonLine(file: String, faces: [DetectedFace]) -> String {
        let items = faces.map { face -> String in
            let l = face.landmarks
            let landmarks = "{\"left_eye\": \(point(l.leftEye)), \"right_eye\": \(point(l.rightEye)), \"nose\": \(point(l.nose)), "
                + "\"mouth_left\": \(point(l.mouthLeft)), \"mouth_right\": \(point(l.mouthRight))}"
            return "{\"box\": \(face.box.roundedXYWH), \"confidence\": \(face.confidence), \"landmarks\": \(landmarks)}"
        }
        return "{\"file\": \(jsonString(file)), \"faces\": [\(items.joined(separator: ", "))]}"
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
