import FaceNetKernels

/// Keras `Concatenate` along one axis (any but the batch).
///
/// The planner gives it a step of its own (`PlannedStep.concatenate`) and, where it can,
/// has the layers that feed it write straight into their slices of its output, so only the
/// rest are copied (`ExecutionPlan`, `ConcatenateKernel`).
package struct ConcatenateLayer: LayerDefinition {
    let axis: Int

    package static let kerasClassNames = ["Concatenate"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        .concatenate(axis: c["axis"] == nil ? -1 : try r.int(try r.value(c, "axis"), "axis"))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let inputShapes = inputs.shapes, kerasAxis = axis
        guard inputShapes.count >= 2, let first = inputShapes.first else {
            throw inputs.fail("Concatenate needs at least 2 inputs, has \(inputShapes.count)")
        }
        guard let axis = sampleAxis(kerasAxis, rank: first.count) else {
            throw inputs.fail("concatenation axis \(kerasAxis) is outside rank \(first.count + 1) or is the batch axis")
        }
        var out = first
        var total: Int? = 0
        for s in inputShapes {
            guard s.count == first.count else { throw inputs.fail("inputs of different rank: \(inputShapes.map(describe))") }
            for d in 0..<s.count where d != axis {
                if let a = s[d], let b = first[d], a != b {
                    throw inputs.fail("inputs differ outside the concatenation axis: \(inputShapes.map(describe))")
                }
            }
            if let t = total, let v = s[axis] {
                let (sum, overflow) = t.addingReportingOverflow(v)
                guard !overflow else { throw inputs.fail("the concatenated size \(t) + \(v) does not fit an Int") }
                total = sum
            } else {
                total = nil
            }
        }
        out[axis] = total
        return out
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        guard let rank = binding.inputShapes.first?.count, let a = sampleAxis(axis, rank: rank) else {
            throw FaceNetError.invalidTopology(path: binding.weights.path, layer: binding.weights.layer,
                                               reason: "bad concatenation axis \(axis)")
        }
        return .concatenate(sampleAxis: a)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        guard let a = sampleAxis(axis, rank: inputs[0].rank - 1) else { throw weights.topologyError("bad axis") }
        return ConcatenateReference.run(inputs, sampleAxis: a)
    }
}
