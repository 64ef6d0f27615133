// Every Swift snippet of the DocC articles (Sources/FaceNetKit/FaceNetKit.docc), verbatim, in
// the functions below; DocSnippetsTests runs them. Scripts/docs.sh checks that each snippet
// occurs here line for line (indentation aside) and type-checks this file on its own outside
// the package, against the built modules' public API: so this file imports only what an app
// imports (no XCTest, no @testable), and each function holds its snippets in article order
// and nothing else but a `return` of what the test checks.
// Manifest snippets (`// Package.swift`) are not here: Scripts/consumer-check.sh builds one.
import FaceNetKit
import FaceNetTools

// MARK: FaceNetKit.md

func snippetOverview() throws {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let result = try facenet.verify("a.jpg", "b.jpg")
    print(result.verified, result.distance, result.threshold)
}

// MARK: GettingStarted.md

func snippetLocateWeights() {
    do {
        let weights = try Preset.facenet512Casia.locateWeights()
        print("weights:", weights)
    } catch {
        print(error)
    }
}

func snippetFirstEmbedding() throws {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let embedding = try facenet.embed(file: "a.jpg", l2Normalize: true)
    print(embedding.count)  // 512
}

// MARK: EmbedAndVerify.md

func snippetVerifyAndEmbed() throws {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let result = try facenet.verify("a.jpg", "b.jpg")  // euclidean_l2, the weights' threshold
    print(result.verified, result.distance, result.threshold)

    let byCosine = try facenet.verify("a.jpg", "b.jpg", metric: .cosine, threshold: 0.6)
    print(byCosine.verified, byCosine.distance)

    let results = facenet.embed(files: ["a.jpg", "b.jpg", "missing.jpg"], l2Normalize: true)
    for (file, result) in results {
        switch result {
        case .success(let embedding): print(file, embedding.count)
        case .failure(let error): print(file, "failed:", error)
        }
    }

    let first = try facenet.embed(file: "a.jpg")
    let second = try facenet.embed(file: "b.jpg")
    let decision = try facenet.verify(embeddings: first, second, metric: .euclideanL2)
    let angular = try DistanceMetric.angular.distance(first, second)  // in [0, 1]
    print(decision.verified, angular)
}

func snippetAsync(_ facenet: FaceNet) async throws -> Int {
    let verdict = try await facenet.verify("a.jpg", "b.jpg")
    let faces = try await facenet.detectFaces(file: "group.jpg")
    print(verdict.verified, faces.count)

    let batch = Task {
        try await facenet.embed(files: ["a.jpg", "b.jpg", "group.jpg"]) { done, total in
            print("embedded \(done) of \(total)")
        }
    }
    batch.cancel()  // stops before the next image
    do {
        let results = try await batch.value
        print(results.count)
    } catch is CancellationError {
        print("cancelled")
    }
    return faces.count
}

func snippetFaces() throws {
    let detector = try MTCNN()  // the nets built into the library
    let photo = try ImageDecoder.decode(path: "group.jpg")
    for face in try detector.detect(photo) {
        print(face.box.roundedXYWH, face.confidence, face.landmarks.leftEye)
    }

    let secondLargest = try FaceNet(preset: .facenet512Casia,
                                    extraction: .mtcnn(alignment: .eyes, margin: 16, faceIndex: 1))
    let embedding = try secondLargest.embed(file: "group.jpg")

    let crops = try FaceNet(preset: .facenet512Casia, extraction: .skip)
    let fromCrop = try crops.embed(file: "face_crop.jpg")
    print(embedding.count, fromCrop.count)
}

func snippetCalibrate(_ facenet: FaceNet) throws {
    let pairs = try PairsFile(path: "pairs.csv")
    var labelled: [Calibration.LabelledDistance] = []
    for pair in pairs.pairs {
        let a = try facenet.embed(file: "photos/" + pair.first)
        let b = try facenet.embed(file: "photos/" + pair.second)
        let distance = try DistanceMetric.euclideanL2.distance(a, b)
        labelled.append(Calibration.LabelledDistance(distance: distance, samePerson: pair.samePerson))
    }
    let calibrated = try Calibration.calibrate(labelled, folds: 10)
    print(calibrated.threshold, calibrated.accuracy, calibrated.crossValidatedAccuracy)
}

// MARK: GoldenRegressionTests.md

func snippetGoldenCheck() throws -> GoldenReport {
    let manifest = try GoldenManifest(path: "manifest.json")
    let model = try Model.load(weightsPath: "model_full.h5")
    let report = try GoldenCheck.run(manifest: manifest, model: model, tolerance: GoldenTolerance())
    for result in report.results where !result.withinTolerance {
        print(result.name, result.maxAbsError, result.limit)
    }
    print(report.summary)
    return report
}

// MARK: BenchmarkingLayers.md

func snippetProfile() throws -> [Double] {
    let model = try Model.load(weightsPath: "facenet512_casia.h5", topologyPath: "facenet512.json")
    let input = model.topology.inputNames[0]
    let session = try InferenceSession(model: model, inputShapes: [input: [8, 160, 160, 3]],
                                       outputs: model.topology.outputNames)
    let inputs = [input: Tensor(zeros: [8, 160, 160, 3])]
    var outputs: [String: Tensor] = [:]
    try session.run(inputs, into: &outputs)  // warm-up; later calls allocate nothing
    let seconds = try session.profile(inputs)
    let slowest = zip(session.stepKinds, seconds).sorted { $0.1 > $1.1 }.prefix(5)
    for (kind, time) in slowest {
        print(kind, time * 1000, "ms")
    }
    return seconds
}
