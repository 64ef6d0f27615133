import ArgumentParser
import FaceNetKit
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

    @Option(help: "Folds for cross-validation.")
    var folds: Int = 10

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
        for name in missing.sorted() { printError("\(name): no image with this stem in \(imageDirectory)") }
        let files = Array(Set(needed)).sorted()
        let progress = Progress()
        var embeddings: [String: [Float]] = [:]
        var failed = !missing.isEmpty
        for (file, result) in facenet.embed(files: files, l2Normalize: face.l2, batchSize: face.batch, progress: {
            progress.update($0, $1, "embedded")
        }) {
            switch result {
            case .success(let e): embeddings[PairsFile.stem(file)] = e
            case .failure(let error):
                printError("\(file): \(error)")
                failed = true
            }
        }
        let usable = pairsFile.pairs.filter { embeddings[PairsFile.stem($0.first)] != nil && embeddings[PairsFile.stem($0.second)] != nil }
        print("pairs: \(usable.count) of \(pairsFile.pairs.count) usable (\(usable.filter(\.samePerson).count) same person), \(folds)-fold cross-validation")
        for metric in DistanceMetric.allCases {
            let labelled = try usable.map { pair in
                Calibration.LabelledDistance(
                    distance: try metric.distance(embeddings[PairsFile.stem(pair.first)] ?? [], embeddings[PairsFile.stem(pair.second)] ?? []),
                    samePerson: pair.samePerson)
            }
            let result = try Calibration.calibrate(labelled, folds: folds)
            var line = "\(metric.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) best threshold \(String(format: "%.4f", result.threshold))"
                + "  accuracy \(String(format: "%.2f", result.accuracy * 100))%"
                + "  \(folds)-fold CV accuracy \(String(format: "%.2f", result.crossValidatedAccuracy * 100))%"
            if let set = facenet.weightSet {
                let t = set.threshold(for: metric)
                line += "  (at the \(set.rawValue) threshold \(t): \(String(format: "%.2f", Calibration.accuracy(labelled, threshold: t) * 100))%)"
            }
            print(line)
        }
        if failed { throw ExitCode(1) }
    }
}
