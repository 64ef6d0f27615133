import FaceNetKernels

/// Concrete shapes for one run: the model's symbolic shapes with the open sizes (a fully
/// convolutional input's height and width) taken from the inputs actually given.
extension ModelTopology {
    /// Full shapes (batch first) of `layers` — a subset of `self.layers` in their order that
    /// holds every layer's inputs — for inputs of `inputShapes` (full shapes by input name).
    ///
    /// Throws `inputShapeMismatch` for an input missing or not of the declared shape, and
    /// `inputTooSmall` when an input of open height/width is smaller than the valid
    /// convolutions and poolings allow (with the smallest size the model takes).
    func concreteShapes(of layers: [LayerNode], inputShapes: [String: [Int]]) throws -> [String: [Int]] {
        do {
            return try propagate(layers, inputShapes)
        } catch FaceNetError.invalidTopology(_, let failing, let reason) {
            let explanation = "layer '\(failing ?? "?")': \(reason)"
            let expected = "a size the model takes (\(explanation))"
            guard let open = openInputAndSmallestSize(layers, inputShapes) else {
                let input = inputNames.first ?? "?"
                throw FaceNetError.inputShapeMismatch(layer: input, expected: expected, found: inputShapes[input] ?? [])
            }
            if let minimum = open.minimum, open.given[1] >= minimum[0] && open.given[2] >= minimum[1] {
                throw FaceNetError.inputShapeMismatch(layer: open.input, expected: expected, found: open.given)
            }
            throw FaceNetError.inputTooSmall(input: open.input, found: open.given, minimum: open.minimum, reason: explanation)
        }
    }

    /// Shape inference on concrete sizes; a layer that cannot take its input throws
    /// `invalidTopology` naming it, as `outputShape` does.
    private func propagate(_ layers: [LayerNode], _ inputShapes: [String: [Int]]) throws -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        var batch: Int?
        for layer in layers {
            if case .input(let declared) = layer.kind {
                let expected = "(batch, " + describe(declared).dropFirst()
                guard let given = inputShapes[layer.name] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: expected, found: [])
                }
                let fits = given.count == declared.count + 1 && given.first.map({ $0 >= 1 }) == true
                    && zip(given.dropFirst(), declared).allSatisfy { g, d in g >= 1 && (d == nil || d == g) }
                guard fits, batch == nil || batch == given[0] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: expected, found: given)
                }
                batch = given[0]
                shapes[layer.name] = given
            } else {
                let inputs = layer.inputs.map { (shapes[$0] ?? []).dropFirst().map(Optional.some) }
                shapes[layer.name] = [batch ?? 1] + (try layer.outputShape(for: inputs)).map { $0 ?? 0 }
            }
        }
        return shapes
    }

    /// The image input (N, H, W, C) among `layers` whose height or width is open, its given
    /// shape, and the smallest height and width for which every layer can run (the other
    /// inputs as given; nil when no size up to 4096 works). Only for error messages: it
    /// repeats the shape inference a few hundred times at most.
    private func openInputAndSmallestSize(_ layers: [LayerNode], _ inputShapes: [String: [Int]])
        -> (input: String, given: [Int], minimum: [Int]?)? {
        for layer in layers {
            guard case .input(let declared) = layer.kind, declared.count == 3, declared[0] == nil || declared[1] == nil,
                  let given = inputShapes[layer.name], given.count == 4 else { continue }
            func runs(height: Int, width: Int) -> Bool {
                var trial = inputShapes
                trial[layer.name] = [given[0], declared[0] ?? height, declared[1] ?? width, given[3]]
                return (try? propagate(layers, trial)) != nil
            }
            // Valid windows only shrink with the input, so the first square that runs bounds both sides.
            guard let side = (1...4096).first(where: { runs(height: $0, width: $0) }) else {
                return (layer.name, given, nil)
            }
            let height = (1...side).first { runs(height: $0, width: side) } ?? side
            let width = (1...side).first { runs(height: side, width: $0) } ?? side
            return (layer.name, given, [declared[0] ?? height, declared[1] ?? width])
        }
        return nil
    }
}
