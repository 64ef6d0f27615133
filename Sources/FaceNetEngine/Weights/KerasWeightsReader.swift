import Foundation
import FaceNetKernels

/// Reads Keras weights from HDF5 and checks them strictly against what the topology
/// expects. Three layouts are read (see `KerasWeightsLayout`):
///
/// - Keras 2 `save_weights`: root attribute `layer_names` (or `layer_names0`, `layer_names1`, …
///   when over 64 KB), every layer in model order; group `/<layer>` with attribute
///   `weight_names` (e.g. `Conv2d_1a_3x3/kernel:0`, an empty float64 array for a weightless
///   layer); dataset `/<layer>/<weight name>` (the name's `/` makes nested groups).
///   Names are fixed-length byte strings (Keras ≤ 2.3) or variable-length UTF-8 (tf_keras).
/// - Keras 2 full model (`model.save('x.h5')`): root attribute `model_config` (topology JSON)
///   and group `/model_weights` in the layout above. Root `optimizer_weights` is ignored.
/// - Keras 3 `.weights.h5`: `/layers/<snake_case class>[_N]/vars/{0,1,…}`, trainable
///   variables first (kernel, bias / gamma, beta), then non-trainable (moving_mean,
///   moving_variance). Root `/vars` (model-level) must be empty; `/optimizer` is ignored.
public enum KerasWeightsReader {

    /// Loads every weight `specs` asks for, with exactly the spec's shape.
    ///
    /// `specs`: one entry for **every layer of the model, in model order** (the order of
    /// the topology JSON's `layers` list, `InputLayer` included), weightless layers with
    /// empty `weights`. The Keras 2 layouts are matched by layer name and short weight
    /// name (`Conv2d_1a_3x3/kernel:0` → `kernel`; order does not matter). Keras 3 files
    /// have no weight names: Keras 3 names each layer's group after its class,
    /// `naming.to_snake_case(class)` plus `_N`, where N counts the earlier layers *of the
    /// same class* in `model.layers` (weightless ones included: Keras 3.15 writes an empty
    /// group for `Activation`, `InputLayer`, … — see `keras3GroupNames`), and `vars/i` is
    /// the spec's i-th weight. Since Keras 3.x files also record each layer's name
    /// (attribute `name` on `layers/<group>/vars`), those are matched by name when every
    /// weighted group's name is a spec's layer name (robust to a topology listing layers
    /// in another order); otherwise by class and order, as Keras 3 itself loads.
    ///
    /// Throws `FaceNetError`: `unreadableFile` (missing, not HDF5, truncated),
    /// `missingWeight`, `weightShapeMismatch`, `unexpectedWeights` (file weights no spec
    /// claims, including a whole layer the specs lack), `invalidWeights` (malformed
    /// structure, a non-float dataset, NaN or infinite values), `invalidArgument` (specs
    /// with duplicate layer or weight names).
    ///
    /// The result holds only layers that have weights: layer name → weight name → tensor.
    ///
    /// `isolation: .childProcess(helper)` reads the file in a helper process, for untrusted
    /// files: a crash or hang of libhdf5 there becomes `invalidWeights` here (see
    /// `WeightsIsolation`).
    public static func load(path: String, specs: [LayerWeightSpec],
                            isolation: WeightsIsolation = .inProcess) throws -> LoadedWeights {
        try checkSpecs(specs)
        if case .childProcess(let helper) = isolation {
            return try IsolatedWeightsLoader.load(path: path, specs: specs, helper: helper)
        }
        return try load(try HDF5File(path: path), specs: specs)
    }

    /// `load` from one of the weights files compiled into the library (`BundledModelFile`).
    package static func load(bundled file: BundledModelFile, specs: [LayerWeightSpec]) throws -> LoadedWeights {
        try checkSpecs(specs)
        return try load(try HDF5File(bundledImage: try file.data, name: file.displayName), specs: specs)
    }

    private static func load(_ file: HDF5File, specs: [LayerWeightSpec]) throws -> LoadedWeights {
        let path = file.path
        let layout = try detectLayout(file)
        let plan: [PlannedWeight]
        switch layout {
        case .saveWeights: plan = try planSaveWeights(file, root: "/", specs: specs)
        case .fullModel: plan = try planSaveWeights(file, root: "/model_weights", specs: specs)
        case .keras3: plan = try planKeras3(file, specs: specs)
        }
        var tensors: [String: [String: Tensor]] = [:]
        for item in plan {
            let data = try inLayer(item.layer, path: path) { try file.readFloatDataset(item.dataset) }
            guard data.shape == item.shape else {
                throw FaceNetError.weightShapeMismatch(
                    path: path, layer: item.layer, weight: item.weight, expected: item.shape, found: data.shape)
            }
            if let bad = data.scalars.firstIndex(where: { !$0.isFinite }) {
                throw FaceNetError.invalidWeights(
                    path: path, layer: item.layer,
                    reason: "weight '\(item.weight)' holds \(data.scalars[bad]) at flat index \(bad)")
            }
            tensors[item.layer, default: [:]][item.weight] = try Tensor(shape: data.shape, scalars: data.scalars)
        }
        return LoadedWeights(path: path, layout: layout, tensors: tensors)
    }

    /// The topology JSON stored in a Keras 2 full-model file (root attribute
    /// `model_config`, bytes or UTF-8), or nil when the file has none (a `save_weights`
    /// or Keras 3 file). `isolation` as for `load`.
    public static func modelConfigJSON(path: String, isolation: WeightsIsolation = .inProcess) throws -> String? {
        if case .childProcess(let helper) = isolation {
            return try IsolatedWeightsLoader.modelConfigJSON(path: path, helper: helper)
        }
        let file = try HDF5File(path: path)
        guard try file.hasAttribute("model_config", on: "/") else { return nil }
        let values = try file.stringAttribute("model_config", on: "/")
        guard values.count == 1, let json = values.first else {
            throw FaceNetError.invalidWeights(
                path: path, layer: nil, reason: "model_config holds \(values.count) strings; expected one")
        }
        return json
    }

    /// Which of the three layouts the file at `path` uses.
    public static func detectLayout(path: String) throws -> KerasWeightsLayout {
        try detectLayout(HDF5File(path: path))
    }

    /// The file's `layer_names` (every layer, model order, weightless ones included) for
    /// the Keras 2 layouts; nil for a Keras 3 file, which has no such list.
    public static func layerNames(path: String) throws -> [String]? {
        let file = try HDF5File(path: path)
        switch try detectLayout(file) {
        case .saveWeights: return try splitStringAttribute(file, "layer_names", on: "/")
        case .fullModel: return try splitStringAttribute(file, "layer_names", on: "/model_weights")
        case .keras3: return nil
        }
    }

    /// Keras 3's group name for each spec, in order: `to_snake_case(className)` plus
    /// `_N` from the second layer of a class on (`Conv2D` → `conv2d`, `conv2d_1`, …),
    /// as `saving_lib._save_container_state` names them.
    public static func keras3GroupNames(_ specs: [LayerWeightSpec]) -> [String] {
        var seen: [String: Int] = [:]
        return specs.map { spec in
            let base = snakeCase(spec.className)
            let index = seen[base, default: 0]
            seen[base] = index + 1
            return index == 0 ? base : "\(base)_\(index)"
        }
    }

    /// Keras 3's `naming.to_snake_case`: drop non-word characters, then
    /// `re.sub("(.)([A-Z][a-z]+)", r"\1_\2")`, `re.sub("([a-z])([A-Z])", r"\1_\2")`, lower.
    /// `PReLU` → `p_re_lu`, `BatchNormalization` → `batch_normalization`, `Conv2D` → `conv2d`.
    public static func snakeCase(_ className: String) -> String {
        func upper(_ c: Character) -> Bool { c.isASCII && c.isUppercase }
        func lower(_ c: Character) -> Bool { c.isASCII && c.isLowercase }
        let word = Array(className.filter { $0 == "_" || $0.isLetter || $0.isNumber })
        // (.)([A-Z][a-z]+) → \1_\2, scanning left to right without overlap like re.sub.
        var split: [Character] = []
        var i = 0
        while i < word.count {
            if i + 2 < word.count, upper(word[i + 1]), lower(word[i + 2]) {
                var end = i + 3
                while end < word.count, lower(word[end]) { end += 1 }
                split.append(word[i])
                split.append("_")
                split.append(contentsOf: word[(i + 1)..<end])
                i = end
            } else {
                split.append(word[i])
                i += 1
            }
        }
        // ([a-z])([A-Z]) → \1_\2
        var result = ""
        i = 0
        while i < split.count {
            if i + 1 < split.count, lower(split[i]), upper(split[i + 1]) {
                result += "\(split[i])_\(split[i + 1])"
                i += 2
            } else {
                result.append(split[i])
                i += 1
            }
        }
        return result.lowercased()
    }

    /// Short weight name Keras 2 files use for matching: the part after the last `/`,
    /// without a `:N` suffix (`Block35_1_Conv2d_1x1/kernel:0` → `kernel`).
    static func shortWeightName(_ name: String) -> String {
        let last = name.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? name
        if let colon = last.lastIndex(of: ":") {
            let suffix = last[last.index(after: colon)...]
            if !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
                return String(last[..<colon])
            }
        }
        return last
    }

    // MARK: - Layout detection

    static func detectLayout(_ file: HDF5File) throws -> KerasWeightsLayout {
        let hasModelWeights = try file.kind(of: "/model_weights") == .group
        if try hasModelWeights || file.hasAttribute("model_config", on: "/") {
            guard hasModelWeights else {
                throw FaceNetError.invalidWeights(
                    path: file.path, layer: nil,
                    reason: "has a model_config attribute but no model_weights group (saved without weights?)")
            }
            return .fullModel
        }
        if try splitAttributeExists(file, "layer_names", on: "/") { return .saveWeights }
        if try file.kind(of: "/layers") == .group { return .keras3 }
        throw FaceNetError.invalidWeights(
            path: file.path, layer: nil,
            reason: "not Keras weights: no root attribute layer_names, no group model_weights, no group layers")
    }

    // MARK: - Keras 2 layouts

    /// One dataset to read once the whole file has been checked.
    private struct PlannedWeight {
        package let layer: String
        package let weight: String
        let dataset: String
        package let shape: [Int]
    }

    private static func planSaveWeights(_ file: HDF5File, root: String, specs: [LayerWeightSpec]) throws -> [PlannedWeight] {
        let path = file.path
        guard let layerNames = try splitStringAttribute(file, "layer_names", on: root) else {
            throw FaceNetError.invalidWeights(path: path, layer: nil, reason: "\(root) has no layer_names attribute")
        }
        // Layer → short weight name → dataset path.
        var fileWeights: [String: [String: String]] = [:]
        for layer in layerNames {
            guard fileWeights[layer] == nil else {
                throw FaceNetError.invalidWeights(path: path, layer: layer, reason: "listed twice in layer_names")
            }
            let group = HDF5File.join(root, layer)
            guard try file.kind(of: group) == .group else {
                throw FaceNetError.invalidWeights(
                    path: path, layer: layer, reason: "listed in layer_names but there is no group \(group)")
            }
            let names = try inLayer(layer, path: path) { try splitStringAttribute(file, "weight_names", on: group) }
            guard let names else {
                throw FaceNetError.invalidWeights(path: path, layer: layer, reason: "group \(group) has no weight_names attribute")
            }
            var entries: [String: String] = [:]
            for name in names {
                let short = shortWeightName(name)
                guard entries[short] == nil else {
                    throw FaceNetError.invalidWeights(path: path, layer: layer, reason: "two weights named '\(short)'")
                }
                entries[short] = HDF5File.join(group, name)
            }
            fileWeights[layer] = entries
        }

        var plan: [PlannedWeight] = []
        var unexpected: [String] = []
        for spec in specs {
            let available = fileWeights[spec.layerName] ?? [:]
            for weight in spec.weights {
                guard let dataset = available[weight.name] else {
                    throw FaceNetError.missingWeight(
                        path: path, layer: spec.layerName, weight: weight.name, expectedShape: weight.shape)
                }
                guard try file.kind(of: dataset) == .dataset else {
                    throw FaceNetError.invalidWeights(
                        path: path, layer: spec.layerName,
                        reason: "weight_names lists '\(weight.name)' but there is no dataset \(dataset)")
                }
                try plan.append(checkedWeight(file, spec: spec, weight: weight, dataset: dataset))
            }
            if !Set(available.keys).isSubset(of: spec.weights.map(\.name)) {
                unexpected.append(spec.layerName)
            }
        }
        let specLayers = Set(specs.map(\.layerName))
        for layer in layerNames where !specLayers.contains(layer) && !(fileWeights[layer] ?? [:]).isEmpty {
            unexpected.append(layer)
        }
        // Groups outside layer_names holding data, e.g. a non-empty top_level_model_weights.
        let listed = Set(layerNames)
        for member in try file.members(ofGroup: root) where !listed.contains(member.name) {
            if try file.containsDataset(HDF5File.join(root, member.name)) { unexpected.append(member.name) }
        }
        guard unexpected.isEmpty else { throw FaceNetError.unexpectedWeights(path: path, layers: unexpected) }
        return plan
    }

    // MARK: - Keras 3 layout

    /// One `layers/<group>` of a Keras 3 file.
    private struct Keras3Group {
        package let group: String
        /// The layer name recorded on `vars` (Keras 3.x), if any.
        package let layerName: String?
        /// Number of datasets `vars/0…n-1`.
        let varCount: Int
        package var label: String { layerName ?? "layers/\(group)" }
    }

    private static func planKeras3(_ file: HDF5File, specs: [LayerWeightSpec]) throws -> [PlannedWeight] {
        let path = file.path
        var unexpected: [String] = []
        var groups: [Keras3Group] = []
        for member in try file.members(ofGroup: "/layers") {
            let groupPath = HDF5File.join("/layers", member.name)
            guard member.kind == .group else {
                if member.kind == .dataset { unexpected.append("layers/\(member.name)") }
                continue
            }
            let group = try readKeras3Group(file, name: member.name)
            // State outside `vars` belongs to nested layers, which the engine does not have.
            for inner in try file.members(ofGroup: groupPath) where inner.name != "vars" {
                if try file.containsDataset(HDF5File.join(groupPath, inner.name)) {
                    unexpected.append("\(group.label)/\(inner.name)")
                }
            }
            groups.append(group)
        }

        let specsByName = Dictionary(specs.map { ($0.layerName, $0) }, uniquingKeysWith: { first, _ in first })
        let specsByGroup = Dictionary(
            zip(keras3GroupNames(specs), specs).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
        let weighted = groups.filter { $0.varCount > 0 }
        let byName = !weighted.isEmpty && weighted.allSatisfy { group in
            group.layerName.map { specsByName[$0] != nil } ?? false
        }
        var assigned: [String: Keras3Group] = [:]
        for group in weighted {
            let spec = byName ? group.layerName.flatMap { specsByName[$0] } : specsByGroup[group.group]
            guard let spec, !spec.weights.isEmpty else {
                unexpected.append(group.label)
                continue
            }
            let base = snakeCase(spec.className)
            if byName, !groupName(group.group, isOfClass: base) {
                throw FaceNetError.invalidWeights(
                    path: path, layer: spec.layerName,
                    reason: "its weights are in layers/\(group.group), a group for another class than \(spec.className) (\(base))")
            }
            guard assigned[spec.layerName] == nil else {
                throw FaceNetError.invalidWeights(path: path, layer: spec.layerName, reason: "two groups hold its weights")
            }
            assigned[spec.layerName] = group
            if group.varCount > spec.weights.count { unexpected.append(spec.layerName) }
        }

        var plan: [PlannedWeight] = []
        for spec in specs {
            for (index, weight) in spec.weights.enumerated() {
                guard let group = assigned[spec.layerName], index < group.varCount else {
                    throw FaceNetError.missingWeight(
                        path: path, layer: spec.layerName, weight: weight.name, expectedShape: weight.shape)
                }
                let dataset = "/layers/\(group.group)/vars/\(index)"
                try plan.append(checkedWeight(file, spec: spec, weight: weight, dataset: dataset))
            }
        }
        // Model-level variables would be weights no layer claims; optimizer state is not the model's.
        for member in try file.members(ofGroup: "/") where member.name != "layers" && member.name != "optimizer" {
            if try file.containsDataset(HDF5File.join("/", member.name)) { unexpected.append("/\(member.name)") }
        }
        guard unexpected.isEmpty else { throw FaceNetError.unexpectedWeights(path: path, layers: unexpected) }
        return plan
    }

    private static func readKeras3Group(_ file: HDF5File, name: String) throws -> Keras3Group {
        let varsPath = "/layers/\(name)/vars"
        guard try file.kind(of: varsPath) == .group else {
            return Keras3Group(group: name, layerName: nil, varCount: 0)
        }
        var layerName: String?
        if try file.hasAttribute("name", on: varsPath) {
            layerName = try file.stringAttribute("name", on: varsPath).first
        }
        let vars = try file.members(ofGroup: varsPath)
        // Keras writes vars/0 … vars/n-1, all datasets; anything else is not a Keras file.
        let indices = Set(vars.compactMap { member in
            member.kind == .dataset ? Int(member.name).flatMap { String($0) == member.name ? $0 : nil } : nil
        })
        guard indices.count == vars.count, indices == Set(0..<vars.count) else {
            throw FaceNetError.invalidWeights(
                path: file.path, layer: layerName,
                reason: "\(varsPath) holds \(vars.map(\.name)); expected datasets 0…\(vars.count - 1)")
        }
        return Keras3Group(group: name, layerName: layerName, varCount: vars.count)
    }

    /// `conv2d`, `conv2d_1`, … are groups of class `conv2d`; `conv2d_transpose` is not.
    private static func groupName(_ group: String, isOfClass base: String) -> Bool {
        if group == base { return true }
        guard group.hasPrefix(base + "_") else { return false }
        let suffix = group.dropFirst(base.count + 1)
        return !suffix.isEmpty && suffix.allSatisfy { $0.isASCII && $0.isNumber }
    }

    // MARK: - Shared helpers

    /// Checks a dataset's shape (without reading it) against the spec.
    private static func checkedWeight(
        _ file: HDF5File, spec: LayerWeightSpec, weight: WeightSpec, dataset: String
    ) throws -> PlannedWeight {
        let found = try inLayer(spec.layerName, path: file.path) { try file.datasetShape(dataset) }
        guard found == weight.shape else {
            throw FaceNetError.weightShapeMismatch(
                path: file.path, layer: spec.layerName, weight: weight.name, expected: weight.shape, found: found)
        }
        return PlannedWeight(layer: spec.layerName, weight: weight.name, dataset: dataset, shape: found)
    }

    /// Reads a string attribute Keras may have split over `name0`, `name1`, … (it splits
    /// attributes over HDF5's 64 KB header limit); nil when neither form exists.
    static func splitStringAttribute(_ file: HDF5File, _ name: String, on object: String) throws -> [String]? {
        if try file.hasAttribute(name, on: object) { return try file.stringAttribute(name, on: object) }
        var values: [String] = []
        var chunk = 0
        while try file.hasAttribute("\(name)\(chunk)", on: object) {
            values += try file.stringAttribute("\(name)\(chunk)", on: object)
            chunk += 1
        }
        return chunk == 0 ? nil : values
    }

    private static func splitAttributeExists(_ file: HDF5File, _ name: String, on object: String) throws -> Bool {
        try file.hasAttribute(name, on: object) || file.hasAttribute("\(name)0", on: object)
    }

    /// Adds the layer name to an `invalidWeights` error thrown without one.
    private static func inLayer<T>(_ layer: String, path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch FaceNetError.invalidWeights(let errorPath, nil, let reason) {
            throw FaceNetError.invalidWeights(path: errorPath, layer: layer, reason: reason)
        }
    }

    private static func checkSpecs(_ specs: [LayerWeightSpec]) throws {
        var layers = Set<String>()
        for spec in specs {
            guard layers.insert(spec.layerName).inserted else {
                throw FaceNetError.invalidArgument("weight specs list layer '\(spec.layerName)' twice")
            }
            var weights = Set<String>()
            for weight in spec.weights {
                guard weights.insert(weight.name).inserted else {
                    throw FaceNetError.invalidArgument(
                        "weight specs list weight '\(weight.name)' of layer '\(spec.layerName)' twice")
                }
                guard weight.shape.allSatisfy({ $0 >= 0 }) else {
                    throw FaceNetError.invalidArgument(
                        "weight spec '\(spec.layerName)/\(weight.name)' has a negative dimension: \(weight.shape)")
                }
            }
        }
    }
}
