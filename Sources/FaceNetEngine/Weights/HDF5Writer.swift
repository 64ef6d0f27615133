// @preconcurrency: libhdf5's type and property-class IDs are C globals set by H5open();
// they are only read here, under HDF5Lock.
@preconcurrency import CHDF5
import Foundation
import FaceNetKernels

/// Writes Keras 2 `save_weights` files through libhdf5, in the layout tf_keras writes
/// (the layout of `../shared/models/facenet512_casia.h5`):
///
///     /                      attrs: layer_names (every layer, model order, weightless ones
///                                   included), backend = "tensorflow", keras_version
///     /<layer>               attr weight_names: ["<layer>/kernel:0", …] in Keras's weight
///                                   order; an empty float64 array for a weightless layer
///     /<layer>/<layer>/kernel:0    float32 dataset (HWIO, (in, out) or (C)), contiguous
///     /top_level_model_weights     empty group, weight_names = empty float64 array
///
/// Strings are variable-length ASCII/UTF-8, as tf_keras writes them (both encodings load
/// in Keras and in `KerasWeightsReader`). A string list over Keras's 64 512-byte header
/// budget is split into `name0`, `name1`, …, as Keras does. Objects carry no
/// modification times, so the same weights give the same bytes.
///
/// The file is written to a temporary file in the destination's directory, flushed to
/// disk, then renamed over `path`: readers never see a half-written file, and a failure
/// leaves any previous file at `path` untouched.
package enum HDF5Writer {
    /// The tf_keras version whose layout is written (the `keras_version` attribute).
    package static let defaultKerasVersion = "2.21.0"
    /// Keras splits an attribute whose data exceeds this (HDF5's object header limit is 64 KB).
    static let attributeByteLimit = 64_512
    /// On-disk size of one variable-length string reference (length + global heap ID).
    static let variableStringReferenceBytes = 16

    /// Writes `weights` (layer → weight name → tensor) for the model whose every layer, in
    /// model order, is listed in `specs`. Each spec weight must be present with exactly its
    /// shape, and nothing else may be. Throws `FaceNetError.invalidArgument` for weights
    /// that do not fit the specs or a path that cannot be written.
    package static func writeKerasWeights(_ weights: [String: [String: Tensor]], specs: [LayerWeightSpec],
                                         to path: String, kerasVersion: String = defaultKerasVersion) throws {
        try validate(weights, specs: specs)
        let destination = URL(fileURLWithPath: path)
        let directory = destination.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FaceNetError.invalidArgument("cannot write \(path): directory \(directory.path) does not exist")
        }
        let temporary = directory.appendingPathComponent(
            ".\(destination.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UUID().uuidString).tmp").path
        do {
            try HDF5Lock.run {
                try writeFile(weights, specs: specs, kerasVersion: kerasVersion, to: temporary, reportedPath: path)
            }
            try syncToDisk(temporary, reportedPath: path)
            guard rename(temporary, path) == 0 else {
                throw FaceNetError.invalidArgument("cannot write \(path): rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    // MARK: - Validation

    private static func validate(_ weights: [String: [String: Tensor]], specs: [LayerWeightSpec]) throws {
        var layers = Set<String>()
        for spec in specs {
            let name = spec.layerName
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0"),
                  name != "top_level_model_weights" else {
                throw FaceNetError.invalidArgument("layer name '\(name)' cannot be an HDF5 group of a Keras weights file")
            }
            guard layers.insert(name).inserted else { throw FaceNetError.invalidArgument("layer '\(name)' is listed twice") }
            let given = weights[name] ?? [:]
            for weight in spec.weights {
                guard let tensor = given[weight.name] else {
                    throw FaceNetError.invalidArgument("no tensor for weight '\(name)/\(weight.name)' of shape \(weight.shape)")
                }
                guard tensor.shape == weight.shape else {
                    throw FaceNetError.invalidArgument("weight '\(name)/\(weight.name)' has shape \(tensor.shape); expected \(weight.shape)")
                }
                guard !weight.name.isEmpty, !weight.name.contains("/"), !weight.name.contains("\0") else {
                    throw FaceNetError.invalidArgument("weight name '\(weight.name)' of layer '\(name)' is not a plain name")
                }
            }
            let extra = Set(given.keys).subtracting(spec.weights.map(\.name))
            guard extra.isEmpty else {
                throw FaceNetError.invalidArgument("layer '\(name)' has weights the specs do not list: \(extra.sorted())")
            }
        }
        let unlisted = Set(weights.keys).subtracting(layers).filter { !(weights[$0] ?? [:]).isEmpty }
        guard unlisted.isEmpty else {
            throw FaceNetError.invalidArgument("weights for layers the specs do not list: \(unlisted.sorted())")
        }
    }

    // MARK: - libhdf5 (call with HDF5Lock held)

    private static func writeFile(_ weights: [String: [String: Tensor]], specs: [LayerWeightSpec],
                                  kerasVersion: String, to temporary: String, reportedPath: String) throws {
        let fail = { (what: String) in FaceNetError.invalidArgument("cannot write \(reportedPath): \(what)") }
        // No timestamps on the root group (file creation properties are group creation properties).
        let fileProperties = try untimedProperties(H5P_CLS_FILE_CREATE_ID_g, fail)
        defer { H5Pclose(fileProperties) }
        let file = H5Fcreate(temporary, 0x0004 /* H5F_ACC_EXCL */, fileProperties, HDF5File.defaultID)
        guard file >= 0 else { throw fail("libhdf5 cannot create \(temporary)") }
        var closed = false
        defer { if !closed { H5Fclose(file) } }
        let groupProperties = try untimedProperties(H5P_CLS_GROUP_CREATE_ID_g, fail)
        defer { H5Pclose(groupProperties) }
        let datasetProperties = try untimedProperties(H5P_CLS_DATASET_CREATE_ID_g, fail)
        defer { H5Pclose(datasetProperties) }
        let context = WriteContext(groupProperties: groupProperties, datasetProperties: datasetProperties, fail: fail)

        try context.writeStrings(specs.map(\.layerName), name: "layer_names", on: file)
        try context.writeString("tensorflow", name: "backend", on: file)
        try context.writeString(kerasVersion, name: "keras_version", on: file)
        for spec in specs {
            let group = try context.createGroup(spec.layerName, in: file)
            defer { H5Gclose(group) }
            let names = spec.weights.map { "\(spec.layerName)/\($0.name):0" }
            if names.isEmpty {
                try context.writeEmptyList(name: "weight_names", on: group)
            } else {
                try context.writeStrings(names, name: "weight_names", on: group)
            }
            for (weight, fullName) in zip(spec.weights, names) {
                guard let tensor = weights[spec.layerName]?[weight.name] else { throw fail("no tensor for \(fullName)") }
                try context.writeDataset(tensor, path: fullName, in: group)
            }
        }
        // tf_keras writes this (empty) group too; readers ignore it.
        let topLevel = try context.createGroup("top_level_model_weights", in: file)
        do {
            defer { H5Gclose(topLevel) }
            try context.writeEmptyList(name: "weight_names", on: topLevel)
        }

        closed = true
        guard H5Fclose(file) >= 0 else { throw fail("libhdf5 failed to close (flush) \(temporary)") }
    }

    /// Object-creation properties of `propertyClass` with modification-time tracking off.
    private static func untimedProperties(_ propertyClass: hid_t, _ fail: (String) -> FaceNetError) throws -> hid_t {
        let properties = H5Pcreate(propertyClass)
        guard properties >= 0 else { throw fail("cannot create HDF5 properties") }
        guard H5Pset_obj_track_times(properties, false) >= 0 else {
            H5Pclose(properties)
            throw fail("cannot turn off HDF5 time tracking")
        }
        return properties
    }

    /// fsync before the rename, so a crash cannot leave a renamed but empty file.
    private static func syncToDisk(_ path: String, reportedPath: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw FaceNetError.invalidArgument("cannot write \(reportedPath): cannot reopen the temporary file to sync it")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw FaceNetError.invalidArgument("cannot write \(reportedPath): fsync failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// The libhdf5 calls of one write, sharing its property lists and error wording.
private struct WriteContext {
    let groupProperties: hid_t
    let datasetProperties: hid_t
    package let fail: (String) -> FaceNetError

    func createGroup(_ name: String, in parent: hid_t) throws -> hid_t {
        let group = H5Gcreate2(parent, name, HDF5File.defaultID, groupProperties, HDF5File.defaultID)
        guard group >= 0 else { throw fail("cannot create group '\(name)'") }
        return group
    }

    /// A group member that may already exist (the `<layer>` inside `/<layer>`).
    func openOrCreateGroup(_ name: String, in parent: hid_t) throws -> hid_t {
        let exists = H5Lexists(parent, name, HDF5File.defaultID)
        guard exists >= 0 else { throw fail("cannot look up '\(name)'") }
        if exists > 0 {
            let group = H5Gopen2(parent, name, HDF5File.defaultID)
            guard group >= 0 else { throw fail("'\(name)' exists and is not a group") }
            return group
        }
        return try createGroup(name, in: parent)
    }

    /// A float32 dataset at `path` (components separated by `/`) below `parent`.
    func writeDataset(_ tensor: Tensor, path: String, in parent: hid_t) throws {
        let components = path.split(separator: "/").map(String.init)
        guard let leaf = components.last else { throw fail("empty dataset path") }
        var groups: [hid_t] = []
        defer { for group in groups.reversed() { H5Gclose(group) } }
        var current = parent
        for component in components.dropLast() {
            current = try openOrCreateGroup(component, in: current)
            groups.append(current)
        }
        let dims = tensor.shape.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        guard space >= 0 else { throw fail("cannot create a dataspace for \(path)") }
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(current, leaf, H5T_IEEE_F32LE_g, space, HDF5File.defaultID,
                                 datasetProperties, HDF5File.defaultID)
        guard dataset >= 0 else { throw fail("cannot create dataset \(path)") }
        defer { H5Dclose(dataset) }
        guard tensor.count > 0 else { return }  // an empty dataset: no data to write
        let status = tensor.scalars.withUnsafeBytes { bytes in
            H5Dwrite(dataset, H5T_NATIVE_FLOAT_g, HDF5File.defaultID, HDF5File.defaultID, HDF5File.defaultID, bytes.baseAddress)
        }
        guard status >= 0 else { throw fail("cannot write dataset \(path)") }
    }

    /// A scalar variable-length string attribute.
    func writeString(_ value: String, name: String, on object: hid_t) throws {
        let space = H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw fail("cannot create a dataspace for attribute \(name)") }
        defer { H5Sclose(space) }
        try writeStringData([value], name: name, space: space, on: object)
    }

    /// A list of variable-length strings, split into `name0`, `name1`, … when Keras would split it.
    func writeStrings(_ values: [String], name: String, on object: hid_t) throws {
        let perChunk = max(1, HDF5Writer.attributeByteLimit / HDF5Writer.variableStringReferenceBytes)
        if values.count <= perChunk {
            try writeStringArray(values, name: name, on: object)
            return
        }
        for (index, start) in stride(from: 0, to: values.count, by: perChunk).enumerated() {
            try writeStringArray(Array(values[start..<min(start + perChunk, values.count)]), name: "\(name)\(index)", on: object)
        }
    }

    /// Keras's `weight_names` of a weightless layer: an empty float64 array.
    func writeEmptyList(name: String, on object: hid_t) throws {
        var dims: [hsize_t] = [0]
        let space = H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw fail("cannot create an empty dataspace for attribute \(name)") }
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, H5T_IEEE_F64LE_g, space, HDF5File.defaultID, HDF5File.defaultID)
        guard attribute >= 0 else { throw fail("cannot create attribute \(name)") }
        H5Aclose(attribute)
    }

    private func writeStringArray(_ values: [String], name: String, on object: hid_t) throws {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw fail("cannot create a dataspace for attribute \(name)") }
        defer { H5Sclose(space) }
        try writeStringData(values, name: name, space: space, on: object)
    }

    private func writeStringData(_ values: [String], name: String, space: hid_t, on object: hid_t) throws {
        let type = H5Tcopy(H5T_C_S1_g)
        guard type >= 0 else { throw fail("cannot create a string type") }
        defer { H5Tclose(type) }
        // ASCII when it is, as tf_keras/h5py write it; UTF-8 otherwise.
        let ascii = values.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } }
        guard H5Tset_size(type, -1 /* H5T_VARIABLE */) >= 0,
              H5Tset_cset(type, ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8) >= 0 else {
            throw fail("cannot create a variable-length string type")
        }
        let attribute = H5Acreate2(object, name, type, space, HDF5File.defaultID, HDF5File.defaultID)
        guard attribute >= 0 else { throw fail("cannot create attribute \(name)") }
        defer { H5Aclose(attribute) }
        var pointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        guard pointers.allSatisfy({ $0 != nil }) else { throw fail("out of memory for attribute \(name)") }
        let status = pointers.withUnsafeMutableBytes { H5Awrite(attribute, type, $0.baseAddress) }
        guard status >= 0 else { throw fail("cannot write attribute \(name)") }
    }
}
