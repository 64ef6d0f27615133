import ArgumentParser
#if FACENET_GALLERY
import FaceNetGallery
#endif
import FaceNetKit
import FaceNetTools
import Foundation

extension PreprocessOptions.Resize: ExpressibleByArgument {}
extension PreprocessOptions.Crop: ExpressibleByArgument {}
extension PreprocessOptions.ColorOrder: ExpressibleByArgument {}
extension PreprocessOptions.Normalization: ExpressibleByArgument {}
extension DistanceMetric: ExpressibleByArgument {}
extension Preset: ExpressibleByArgument {}
extension WeightSet: ExpressibleByArgument {}
extension FaceAlignment: ExpressibleByArgument {}

/// Whether photos go through the face detector.
enum DetectorChoice: String, ExpressibleByArgument, CaseIterable {
    case mtcnn, skip
}

/// The flag set `embed`, `verify` and `calibrate` share: which model, and how a photo
/// becomes its input. Unset preprocessing flags take the preset's values.
struct FaceOptions: ParsableArguments {
    /// `--model`, or `--weights` (+ `--topology`), `--isolate-weights`, `--verify-weights`.
    @OptionGroup var modelFiles: ModelFiles

    @Option(help: "Which weights --weights holds, for default thresholds: \(WeightSet.allCases.map(\.rawValue).joined(separator: ", ")).")
    var weightSet: WeightSet?

    @Option(help: "Resize filter: \(PreprocessOptions.Resize.allCases.map(\.rawValue).joined(separator: ", ")).")
    var resize: PreprocessOptions.Resize?

    @Option(help: "Crop before resizing: center or none.")
    var crop: PreprocessOptions.Crop?

    @Flag(help: "deepface's letterbox: keep the aspect ratio, pad with black.")
    var letterbox = false

    @Option(help: "Channel order fed to the network: rgb or bgr.")
    var color: PreprocessOptions.ColorOrder?

    @Option(help: "Normalisation: \(PreprocessOptions.Normalization.allCases.map(\.rawValue).joined(separator: ", ")).")
    var normalize: PreprocessOptions.Normalization?

    @Flag(help: "l2-normalise embeddings.")
    var l2 = false

    @Option(help: "Face detector: mtcnn (find the largest face in each photo) or skip (images are face crops already).")
    var detector: DetectorChoice = .mtcnn

    @Option(help: "Alignment of detected faces: none, or eyes (rotate so the eyes are level).")
    var align: FaceAlignment = .none

    @Option(help: "Pixels added to every side of a detected face box.")
    var margin: Int = 16

    @Option(help: "Which face of each photo, counting from the largest (0).")
    var face: Int = 0

    @Flag(help: "Embed the whole image when the detector finds no face (deepface's enforce_detection=False), instead of failing.")
    var fallbackWholeImage = false

    @Option(help: "Images per forward pass.")
    var batch: Int = 8

    @OptionGroup var engine: EngineFlags

    var check: WeightsCheckOptions { modelFiles.check }

    func validate() throws {
        if weightSet != nil, modelFiles.weights == nil { throw ValidationError("--weight-set names what --weights holds; a preset knows its own") }
        if batch < 1 { throw ValidationError("--batch must be positive") }
        if margin < 0 { throw ValidationError("--margin must not be negative") }
        if face < 0 { throw ValidationError("--face must not be negative") }
        if detector == .skip, align != .none { throw ValidationError("--align needs a detector (not --detector skip)") }
        if detector == .skip, fallbackWholeImage { throw ValidationError("--fallback-whole-image needs a detector (not --detector skip)") }
    }

    /// How photos become faces, from --detector, --align and --margin.
    func extraction(engineOptions: EngineOptions) throws -> FaceExtraction {
        switch detector {
        case .skip: return .skip
        case .mtcnn:
            var extraction = try FaceExtraction.mtcnn(alignment: align, margin: margin, faceIndex: face,
                                                      verification: check.verification, engineOptions: engineOptions)
            extraction.fallbackToWholeImage = fallbackWholeImage
            return extraction
        }
    }

    /// The model (`ModelFiles.load`) wrapped with its preprocessing: the preset's, or for
    /// `--weights` the `--weight-set`'s, then the flags given here on top.
    func load() throws -> FaceNet {
        let engineOptions = try engine.engineOptions()
        let model = try modelFiles.load(options: engineOptions)
        let preset = modelFiles.preset
        var options = preset?.preprocessing ?? weightSet?.preprocessing ?? PreprocessOptions()
        apply(to: &options)
        let facenet = try FaceNet(model: model, preprocessing: options, weightSet: preset?.weightSet ?? weightSet,
                                  extraction: extraction(engineOptions: engineOptions))
        check.warnAboutMismatches(facenet.extraction.detector?.models ?? [])
        return facenet
    }

    #if FACENET_GALLERY
    /// The name a gallery records for the model: the preset, or `weights <file name>`.
    var galleryModelName: String {
        modelFiles.preset?.rawValue ?? "weights " + ((modelFiles.weights ?? "") as NSString).lastPathComponent
    }

    /// What a gallery records for these flags, without loading the weights: the preset's
    /// built-in topology (or `--topology`) gives the dimension. A full-model `--weights`
    /// file without `--topology` is loaded for it.
    func galleryModel() throws -> GalleryModel {
        let preset = modelFiles.preset
        var options = preset?.preprocessing ?? weightSet?.preprocessing ?? PreprocessOptions()
        apply(to: &options)
        let topology: ModelTopology
        if let preset {
            topology = try preset.topology()
        } else if let path = modelFiles.topology {
            topology = try KerasJSONReader.read(path: path)
        } else {
            return try GalleryModel(facenet: load(), model: galleryModelName)
        }
        let summary = try ModelSummary(topology: topology, sampleShape: [options.size, options.size, 3])
        guard let output = topology.outputNames.first, let row = summary.rows.first(where: { $0.name == output }),
              let dimension = row.outputShape.last, dimension > 0 else {
            throw FaceNetError.invalidArgument("\(galleryModelName): cannot tell the embedding size from the topology")
        }
        return GalleryModel(model: galleryModelName, dimension: dimension,
                            preprocessing: GalleryModel.preprocessing(options, detector: detector == .mtcnn, alignment: align,
                                                                      margin: margin),
                            weightSet: (preset?.weightSet ?? weightSet)?.rawValue)
    }

    #endif

    private func apply(to options: inout PreprocessOptions) {
        if let resize { options.resize = resize }
        if let crop { options.crop = crop }
        if letterbox { options.letterbox = true }
        if let color { options.color = color }
        if let normalize { options.normalization = normalize }
    }
}

/// Image files named on the command line: files as given, directories expanded to the
/// images in them (sorted), anything else reported.
func expandImagePaths(_ arguments: [String]) -> [String] {
    let extensions = ImageFormat.fileExtensions
    var files: [String] = []
    for argument in arguments {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
            files += names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
                .map { (argument as NSString).appendingPathComponent($0) }
        } else {
            files.append(argument)
        }
    }
    return files
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The stderr line for an image that failed: the error's message, which names the file
/// already when it comes from reading or preparing it, else the file and the message.
func fileErrorLine(_ file: String, _ error: Error) -> String {
    let message = String(describing: error)
    return message.hasPrefix(file + ":") ? message : "\(file): \(message)"
}
