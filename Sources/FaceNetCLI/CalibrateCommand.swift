import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Find the best threshold per metric on labelled pairs, with 10-fold cross-validated accuracy.")

    @Argument(help: "Pairs CSV: file_x,file_y,Decision (Yes/No), as deepface ships it.")
    var pairs: String

    @Argument(help: "Directory of the images; pair names are matched by stem (img1.jpg ↔ img1.png).")
    var imageDirectory: String

    @OptionGroup var face: FaceOptions

    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "Folds for cross-validation.")
    var folds: Int = 10

    @OptionGroup var output: OutputOptions

    @Flag(help: "Deal same-person and different-person pairs evenly into the folds (as LFW's folds are), instead of cutting the file into consecutive runs.")
    var balancedFolds = false

    func validate() throws {
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2 (each fold's threshold is chosen on the others)") }
    }

    func run() throws {
        let facenet = try face.load()
        let pairsFile = try PairsFile(path: pairs)
        let byStem = Dictionary(expandImagePaths([imageDirectory]).map { (PairsFile.stem($0), $0) },
                                uniquingKeysWith: { first, _ in first })
        var needed: [String] = []
        var missing = Set<String>()
        for pair in pairsFile.pairs {
            for name in [pair.first, pair.second] {
                if let file = byStem[PairsFile.stem(name)] { needed.append(file) } else { missing.insert(name) }
            }
        }
        for name in missing.sorted() {
            output.fail(file: name, FaceNetError.unreadableFile(
                path: name, reason: "no image with this stem in \(imageDirectory); pair names are matched by stem (img1.jpg ↔ img1.png)"))
        }
        let files = Array(Set(needed)).sorted()
        let progress = progressOptions.reporter(total: files.count, what: "embedded")
        var embeddings: [String: [Float]] = [:]
        var failed = !missing.isEmpty
        for (file, result) in facenet.embed(files: files, l2Normalize: face.l2, batchSize: face.batch, progress: {
            progress.update($0)
            _ = $1
        }) {
            switch result {
            case .success(let e): embeddings[PairsFile.stem(file)] = e
            case .failure(let error):
                progress.clear()
                output.fail(file: file, error)
                failed = true
            }
        }
        let usable = pairsFile.pairs.filter { embeddings[PairsFile.stem($0.first)] != nil && embeddings[PairsFile.stem($0.second)] != nil }
        let assignment: Calibration.FoldAssignment = balancedFolds ? .balanced : .consecutive
        output.say("pairs: \(usable.count) of \(pairsFile.pairs.count) usable (\(usable.filter(\.samePerson).count) same person), "
              + "\(folds)-fold cross-validation (\(balancedFolds ? "balanced" : "consecutive") folds)")
        if !balancedFolds, let note = Self.unevenFoldsNote(usable.map(\.samePerson), folds: folds) { printError(note) }
        var metrics: [JSON] = []
        for metric in DistanceMetric.allCases {
            let labelled = try usable.map { pair in
                Calibration.LabelledDistance(
                    distance: try metric.distance(embeddings[PairsFile.stem(pair.first)] ?? [], embeddings[PairsFile.stem(pair.second)] ?? []),
                    samePerson: pair.samePerson)
            }
            let result = try Calibration.calibrate(labelled, folds: folds, assignment: assignment)
            var line = "\(metric.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) best threshold \(String(format: "%.4f", result.threshold))"
                + "  accuracy \(String(format: "%.2f", result.accuracy * 100))%"
                + "  \(folds)-fold CV accuracy \(String(format: "%.2f", result.crossValidatedAccuracy * 100))%"
            var fields: [(String, JSON)] = [("metric", .string(metric.rawValue)), ("threshold", .double(result.threshold)),
                                            ("accuracy", .double(result.accuracy)),
                                            ("cross_validated_accuracy", .double(result.crossValidatedAccuracy))]
            if let set = facenet.weightSet {
                let t = set.threshold(for: metric)
                let accuracy = Calibration.accuracy(labelled, threshold: t)
                line += "  (at the \(set.rawValue) threshold \(t): \(String(format: "%.2f", accuracy * 100))%)"
                fields += [("shipped_threshold", .double(t)), ("accuracy_at_shipped_threshold", .double(accuracy))]
            }
            output.text(line)
            metrics.append(.object(fields))
        }
        output.emit(.object([
            ("pairs", .int(pairsFile.pairs.count)), ("usable_pairs", .int(usable.count)),
            ("same_person_pairs", .int(usable.filter(\.samePerson).count)), ("folds", .int(folds)),
            ("fold_assignment", .string(balancedFolds ? "balanced" : "consecutive")),
            ("model", .string(face.modelFiles.name)), ("weight_set", .string(facenet.weightSet?.rawValue)),
            ("metrics", .array(metrics)),
        ]))
        if failed { throw ExitCode(1) }
    }

    /// A warning when the file's consecutive folds hold very different shares of
    /// same-person pairs (a file sorted by label): each fold's threshold is then chosen on
    /// pairs unlike the ones it is scored on.
    static func unevenFoldsNote(_ samePerson: [Bool], folds: Int) -> String? {
        guard folds >= 2, samePerson.count >= folds else { return nil }
        let labelled = samePerson.map { Calibration.LabelledDistance(distance: 0, samePerson: $0) }
        let shares = Calibration.folds(labelled, count: folds, assignment: .consecutive).map { fold in
            Double(fold.filter { samePerson[$0] }.count) / Double(max(fold.count, 1))
        }
        guard let low = shares.min(), let high = shares.max(), high - low > 0.5 else { return nil }
        return "note: the consecutive folds hold \(Int((low * 100).rounded()))–\(Int((high * 100).rounded()))% same-person pairs "
            + "(the file is ordered by label?); --balanced-folds gives every fold the same share, as LFW's folds have"
    }
}
