import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit

/// Tolerances of a golden comparison. The limit scales with the spread (standard deviation)
/// of the reference values, not with their largest magnitude: an output with a few large
/// values would otherwise hide a kernel that is off by ~0.1% everywhere (the old
/// `1e-3 · max(1, max |ref|)` let such an error through on every output of the tiny model).
public struct GoldenTolerance: Sendable {
    /// Every output: max abs error ≤ `spread` · standard deviation of the reference values.
    /// 3e-4 is 3× the largest float32 reordering error measured (9.8e-5, the synthetic
    /// full-size FaceNet; the real CASIA weights 5e-6) and 2.7× below the smallest error a
    /// 0.1% change in one layer's kernel gives (8e-4); see Docs/testing.md.
    public var spread: Float = 3e-4
    /// l2-normalised embeddings also: max abs error ≤ `embedding` (absolute).
    public var embedding: Float = 1e-4

    public init(spread: Float = 3e-4, embedding: Float = 1e-4) {
        self.spread = spread
        self.embedding = embedding
    }
}

/// One compared output.
public struct GoldenResult: Sendable {
    public let name: String
    public let shape: [Int]
    /// max |actual − ref|; infinite when any difference is not finite (NaN or Inf on either side).
    public let maxAbsError: Float
    /// max abs error / max |ref|: the error relative to the output's scale.
    public let maxRelativeError: Float
    public let maxReference: Float
    /// Standard deviation of the reference values.
    public let referenceSpread: Float
    /// max abs error / standard deviation of the reference: what `GoldenTolerance.spread` bounds.
    public var spreadRelativeError: Float { maxAbsError / max(referenceSpread, .leastNormalMagnitude) }
    public let limit: Float
    public var withinTolerance: Bool { maxAbsError <= limit }
}

/// The outcome of a whole manifest.
public struct GoldenReport: Sendable {
    public let results: [GoldenResult]
    public var passed: Int { results.filter(\.withinTolerance).count }
    /// The largest max abs error (infinite when any output has a NaN or Inf difference:
    /// `compare` never yields NaN, so `max` sees every result).
    public var maxAbsError: Float { results.map(\.maxAbsError).max() ?? 0 }
    /// The largest error relative to its output's spread.
    public var maxSpreadRelativeError: Float { results.reduce(0) { max($0, $1.spreadRelativeError) } }
    public var allWithinTolerance: Bool { passed == results.count }
    /// The closing line of `facenet golden`.
    public var summary: String {
        "golden: \(passed)/\(results.count) outputs within tolerance (max abs err \(formatScientific(maxAbsError)), "
            + "max err/spread \(formatScientific(maxSpreadRelativeError)))"
    }
}

/// Runs a model on a manifest's input and compares every listed output.
public enum GoldenCheck {
    /// Runs the manifest's input through the model and compares each listed output.
    /// - Parameters:
    ///   - manifest: the input and the reference outputs (see `GoldenManifest`).
    ///   - model: the model under test, loaded from the weights the references came from.
    ///   - tolerance: the per-output limits (`GoldenTolerance`).
    ///   - batchSize: images per forward pass (bounds memory; results do not depend on it).
    public static func run(manifest: GoldenManifest, model: Model, tolerance: GoldenTolerance = .init(),
                           batchSize: Int = 8) throws -> GoldenReport {
        let input = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let layers = Array(Set(manifest.outputs.map(\.layer.name))).sorted()
        let computed = try runBatched(model: model, input: input, outputs: layers, batchSize: batchSize)
        return try GoldenReport(results: manifest.outputs.map { entry in
            let (layer, l2) = entry.layer
            guard var actual = computed[layer] else { throw FaceNetError.unknownLayer(name: layer) }
            if l2 { actual = l2Normalized(actual) }
            guard actual.shape == entry.shape else {
                throw FaceNetError.invalidManifest(path: manifest.path,
                    reason: "output '\(entry.name)' has shape \(entry.shape) in the manifest, the model gives \(actual.shape)")
            }
            let reference = try manifest.readTensor(entry.file, shape: entry.shape)
            return compare(name: entry.name, actual: actual, reference: reference, l2Normalized: l2, tolerance: tolerance)
        })
    }

    /// Compares two tensors of equal shape under the tolerance for their kind.
    public static func compare(name: String, actual: Tensor, reference: Tensor, l2Normalized: Bool,
                               tolerance: GoldenTolerance) -> GoldenResult {
        var maxAbs: Float = 0, maxRef: Float = 0
        var sum = 0.0, sumOfSquares = 0.0
        for (a, r) in zip(actual.scalars, reference.scalars) {
            let difference = abs(a - r)
            // `max` skips NaN: a NaN or Inf on either side must fail, not vanish.
            if !difference.isFinite { maxAbs = .infinity }
            maxAbs = max(maxAbs, difference)
            maxRef = max(maxRef, abs(r))
            sum += Double(r)
            sumOfSquares += Double(r) * Double(r)
        }
        if actual.count != reference.count { maxAbs = .infinity }
        let n = Double(max(reference.count, 1))
        let mean = sum / n
        let spread = Float(max(sumOfSquares / n - mean * mean, 0).squareRoot())
        var limit = tolerance.spread * spread
        if l2Normalized { limit = min(limit, tolerance.embedding) }
        return GoldenResult(name: name, shape: reference.shape, maxAbsError: maxAbs,
                            maxRelativeError: maxRef > 0 ? maxAbs / maxRef : maxAbs,
                            maxReference: maxRef, referenceSpread: spread, limit: limit)
    }

    /// Runs `input` (batch first) through the model in chunks of `batchSize`, concatenating
    /// each requested output along the batch.
    public static func runBatched(model: Model, input: Tensor, outputs: [String], batchSize: Int) throws -> [String: Tensor] {
        guard let inputName = model.topology.inputNames.first, model.topology.inputNames.count == 1 else {
            throw FaceNetError.invalidArgument("golden manifests hold one input; the model has \(model.topology.inputNames.count)")
        }
        guard let total = input.shape.first, total > 0, batchSize > 0 else {
            throw FaceNetError.invalidArgument("empty input batch")
        }
        let perSample = input.count / total
        var sessions: [Int: InferenceSession] = [:]
        var gathered: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        var start = 0
        while start < total {
            let n = min(batchSize, total - start)
            let shape = [n] + input.shape.dropFirst()
            let session = try sessions[n] ?? InferenceSession(model: model, inputShapes: [inputName: shape], outputs: outputs)
            sessions[n] = session
            let chunk = try Tensor(shape: shape, scalars: Array(input.scalars[(start * perSample)..<((start + n) * perSample)]))
            for (name, tensor) in try session.run([inputName: chunk]) {
                gathered[name, default: []].append(contentsOf: tensor.scalars)
                shapes[name] = [total] + tensor.shape.dropFirst()
            }
            start += n
        }
        return try gathered.reduce(into: [:]) { result, entry in
            result[entry.key] = try Tensor(shape: shapes[entry.key] ?? [], scalars: entry.value)
        }
    }
}

/// "1.23e-05"-style text.
public func formatScientific(_ x: Float) -> String {
    guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
    var exponent = Int((log10(Double(abs(x)))).rounded(.down))
    var mantissa = Double(x) / pow(10, Double(exponent))
    if abs(mantissa) >= 9.995 { mantissa /= 10; exponent += 1 }
    let m = (mantissa * 100).rounded() / 100
    return String(format: "%.2fe%@%02d", m, exponent < 0 ? "-" : "+", abs(exponent))
}
