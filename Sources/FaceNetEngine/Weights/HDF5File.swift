// @preconcurrency: libhdf5's type IDs (H5T_NATIVE_FLOAT_g, H5T_C_S1_g) are C globals that
// Swift 6 sees as shared mutable state; they are set once by H5open() and only read
// here under HDF5Lock.
@preconcurrency import CHDF5
import Foundation
import FaceNetKernels

/// Serialises every call into libhdf5: the serial build (the one Debian ships) keeps
/// global state (error stack, ID tables, metadata cache) and is not thread-safe.
package enum HDF5Lock {
    private static let mutex = LockedValue(false)

    /// Runs `body` holding the global HDF5 lock. The first caller initialises the
    /// library and silences its automatic error printing (errors become Swift throws).
    package static func run<T>(_ body: () throws -> T) throws -> T {
        try mutex.withLock { (initialised: inout Bool) throws -> T in
            if !initialised {
                guard H5open() >= 0 else {
                    throw FaceNetError.unreadableFile(path: "libhdf5", reason: "H5open() failed")
                }
                _ = H5Eset_auto2(HDF5File.defaultID, nil, nil)
                initialised = true
            }
            return try body()
        }
    }
}

/// A read-only HDF5 file: the few operations the Keras weights reader needs, each
/// validated and serialised through `HDF5Lock`. Paths are absolute HDF5 paths
/// (`/model_weights/Conv2d_1a_3x3`). Every failure throws a `FaceNetError` naming the file.
package final class HDF5File {
    /// What a group member is.
    package enum MemberKind: Equatable { case group, dataset, other }

    package struct Member: Equatable {
        package let name: String
        package let kind: MemberKind
    }

    /// `H5P_DEFAULT`, `H5E_DEFAULT` and `H5S_ALL` are all `(hid_t)0`; the macros do not import.
    static let defaultID: hid_t = 0
    /// Largest rank accepted for a dataset (Keras weights have rank ≤ 4).
    static let maxRank = 8
    /// Largest element count accepted for one dataset or attribute.
    static let maxElements = 1 << 31
    /// How much larger than the whole file a compressed dataset may claim to be: deflate,
    /// the filter h5py offers, expands at most ~1032:1.
    static let maxFilterExpansion = 1032
    /// Largest member count accepted for one group (guards against corrupt link tables).
    static let maxMembers = 1 << 20

    package let path: String
    /// Size of the file in bytes: no unfiltered dataset can hold more.
    let fileSize: Int
    private let fileID: hid_t

    /// Opens `path` read-only after checking it exists, is a readable regular file and
    /// carries the HDF5 signature at offset 0, 512, 1024 or 2048.
    package init(path: String) throws {
        self.path = path
        fileSize = try Self.checkSignature(path: path)
        let id = try HDF5Lock.run { () -> hid_t in
            let id = H5Fopen(path, 0 /* H5F_ACC_RDONLY */, Self.defaultID)
            if id < 0 {
                throw FaceNetError.unreadableFile(
                    path: path, reason: "libhdf5 cannot open it: \(Self.errorStackSummary())")
            }
            return id
        }
        fileID = id
    }

    /// Opens an HDF5 file held in memory (libhdf5's core driver over a copy of `image`),
    /// for the files compiled into the library (`BundledModelFile`): trusted bytes, so the
    /// Swift superblock pre-check that guards files from outside is not repeated. `name`
    /// stands for the path in messages.
    package init(bundledImage image: Data, name: String) throws {
        path = name
        fileSize = image.count
        let id = try HDF5Lock.run { () -> hid_t in
            let access = H5Pcreate(H5P_CLS_FILE_ACCESS_ID_g)
            guard access >= 0 else {
                throw FaceNetError.unreadableFile(path: name, reason: "libhdf5 cannot make a file access list")
            }
            defer { H5Pclose(access) }
            // The image is copied into the driver's own buffer; no backing file is written.
            let prepared = image.withUnsafeBytes { bytes in
                H5Pset_fapl_core(access, 1 << 16, false) >= 0
                    && H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) >= 0
            }
            guard prepared else {
                throw FaceNetError.unreadableFile(path: name, reason: "libhdf5 cannot take the file image: \(Self.errorStackSummary())")
            }
            // The core driver still tries to open the name on disk and refuses when a file
            // is there; below /dev/null no file can exist (ENOTDIR), so the image is used.
            let id = H5Fopen("/dev/null/" + name, 0 /* H5F_ACC_RDONLY */, access)
            if id < 0 {
                throw FaceNetError.unreadableFile(path: name, reason: "libhdf5 cannot open it: \(Self.errorStackSummary())")
            }
            return id
        }
        fileID = id
    }

    deinit {
        let id = fileID
        _ = try? HDF5Lock.run { H5Fclose(id) }
    }

    // MARK: - Structure

    /// Whether `objectPath` names an existing link; every intermediate group is checked,
    /// since `H5Lexists` fails (rather than answering false) on a missing intermediate.
    package func exists(_ objectPath: String) throws -> Bool {
        try HDF5Lock.run { try linkExists(objectPath) }
    }

    /// The kind of object at `objectPath`, or nil when nothing is there.
    package func kind(of objectPath: String) throws -> MemberKind? {
        try HDF5Lock.run {
            guard try linkExists(objectPath) else { return nil }
            return objectKind(parent: fileID, name: objectPath)
        }
    }

    /// The members of a group, in name order.
    func members(ofGroup groupPath: String) throws -> [Member] {
        try HDF5Lock.run {
            let group = H5Gopen2(fileID, groupPath, Self.defaultID)
            guard group >= 0 else { throw invalid("cannot open group '\(groupPath)'") }
            defer { H5Gclose(group) }
            var info = H5G_info_t()
            guard H5Gget_info(group, &info) >= 0 else {
                throw invalid("cannot list group '\(groupPath)'")
            }
            guard info.nlinks <= UInt64(Self.maxMembers) else {
                throw invalid("group '\(groupPath)' claims \(info.nlinks) members")
            }
            var result: [Member] = []
            for index in 0..<info.nlinks {
                let name = try linkName(group: group, index: index, groupPath: groupPath)
                result.append(Member(name: name, kind: objectKind(parent: group, name: name)))
            }
            return result
        }
    }

    /// Whether some dataset lies at or below `objectPath` (groups searched to `maxDepth`
    /// levels: hard links can make cycles).
    func containsDataset(_ objectPath: String, maxDepth: Int = 16) throws -> Bool {
        switch try kind(of: objectPath) {
        case .dataset?: return true
        case .group?:
            guard maxDepth > 0 else { return false }
            for member in try members(ofGroup: objectPath)
            where try containsDataset(Self.join(objectPath, member.name), maxDepth: maxDepth - 1) {
                return true
            }
            return false
        case .other?, nil: return false
        }
    }

    // MARK: - Attributes

    /// Whether the object at `objectPath` has an attribute `name`.
    func hasAttribute(_ name: String, on objectPath: String) throws -> Bool {
        try HDF5Lock.run {
            let found = H5Aexists_by_name(fileID, objectPath, name, Self.defaultID)
            guard found >= 0 else { throw invalid("cannot query attribute '\(name)' of '\(objectPath)'") }
            return found > 0
        }
    }

    /// Reads a string attribute as a list: a scalar gives one element, an array one per
    /// entry. Both encodings Keras uses are accepted: fixed-length byte strings
    /// (Keras ≤ 2.3, null- or space-padded) and variable-length strings (tf_keras, UTF-8).
    /// An empty attribute of any type — Keras writes a weightless layer's
    /// `weight_names` as an empty float64 array — reads as `[]`.
    func stringAttribute(_ name: String, on objectPath: String) throws -> [String] {
        try HDF5Lock.run {
            let attr = H5Aopen_by_name(fileID, objectPath, name, Self.defaultID, Self.defaultID)
            guard attr >= 0 else { throw invalid("cannot open attribute '\(name)' of '\(objectPath)'") }
            defer { H5Aclose(attr) }
            let what = "attribute '\(name)' of '\(objectPath)'"
            let count = try elementCount(space: H5Aget_space(attr), what: what)
            let type = H5Aget_type(attr)
            guard type >= 0 else { throw invalid("cannot read the type of \(what)") }
            defer { H5Tclose(type) }
            if count == 0 { return [] }
            guard H5Tget_class(type) == H5T_STRING else {
                throw invalid("\(what) holds \(count) non-string values; expected strings")
            }
            let variable = H5Tis_variable_str(type)
            guard variable >= 0 else { throw invalid("cannot inspect the string type of \(what)") }
            return variable > 0
                ? try readVariableStrings(attr: attr, fileType: type, count: count, what: what)
                : try readFixedStrings(attr: attr, fileType: type, count: count, what: what)
        }
    }

    // MARK: - Datasets

    /// The dimensions of the dataset at `datasetPath` (`[]` for a scalar), validated:
    /// rank ≤ `maxRank`, element count ≤ `maxElements`.
    func datasetShape(_ datasetPath: String) throws -> [Int] {
        try HDF5Lock.run {
            let dataset = try openDataset(datasetPath)
            defer { H5Dclose(dataset) }
            return try shape(of: dataset, what: "dataset '\(datasetPath)'")
        }
    }

    /// Reads a floating-point dataset (float16, float32 or float64 on disk) converted to
    /// Float by libhdf5, with its dimensions. Row-major, as stored.
    func readFloatDataset(_ datasetPath: String) throws -> (shape: [Int], scalars: [Float]) {
        try HDF5Lock.run {
            let what = "dataset '\(datasetPath)'"
            let dataset = try openDataset(datasetPath)
            defer { H5Dclose(dataset) }
            let dims = try shape(of: dataset, what: what)
            let count = dims.reduce(1, *)
            let type = H5Dget_type(dataset)
            guard type >= 0 else { throw invalid("cannot read the type of \(what)") }
            defer { H5Tclose(type) }
            guard H5Tget_class(type) == H5T_FLOAT else {
                throw invalid("\(what) holds \(Self.className(H5Tget_class(type))) values, not floating point")
            }
            let typeSize = H5Tget_size(type)
            guard typeSize > 0, typeSize <= 16 else { throw invalid("\(what) has a \(typeSize)-byte float type") }
            // Unfiltered data is stored as is, so it cannot be larger than the file; filtered
            // (compressed) data at most `maxFilterExpansion` times that. Catches corrupt
            // headers before a huge allocation.
            let filtered = try isFiltered(dataset, what: what)
            let (bytes, overflow) = count.multipliedReportingOverflow(by: typeSize)
            let limit = filtered ? fileSize.multipliedReportingOverflow(by: Self.maxFilterExpansion).partialValue : fileSize
            guard !overflow, bytes <= limit else {
                throw invalid(filtered
                    ? "\(what) claims \(dims) × \(typeSize) bytes, more than \(Self.maxFilterExpansion)× the file's \(fileSize) bytes"
                    : "\(what) claims \(dims) × \(typeSize) bytes, more than the file's \(fileSize) bytes")
            }
            // Uninitialised storage (no memset of up to hundreds of MB): H5Dread fills all of
            // it, and on failure the array is emptied before the throw.
            var status: herr_t = 0
            let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
                if count > 0 {
                    status = H5Dread(dataset, H5T_NATIVE_FLOAT_g, Self.defaultID, Self.defaultID,
                                     Self.defaultID, buffer.baseAddress)
                }
                initialised = status >= 0 ? count : 0
            }
            guard status >= 0 else {
                throw invalid("cannot read \(what): \(Self.errorStackSummary())")
            }
            return (dims, scalars)
        }
    }

    /// `parent/child` as an HDF5 path (`/` + `layers` → `/layers`).
    static func join(_ parent: String, _ child: String) -> String {
        parent.hasSuffix("/") ? parent + child : parent + "/" + child
    }

    // MARK: - Helpers (call with the lock held)

    private func invalid(_ reason: String) -> FaceNetError {
        .invalidWeights(path: path, layer: nil, reason: reason)
    }

    private func linkExists(_ objectPath: String) throws -> Bool {
        var prefix = objectPath.hasPrefix("/") ? "" : "."
        for component in objectPath.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            let found = H5Lexists(fileID, prefix, Self.defaultID)
            guard found >= 0 else { throw invalid("cannot look up '\(prefix)'") }
            if found == 0 { return false }
        }
        return true
    }

    private func objectKind(parent: hid_t, name: String) -> MemberKind {
        let object = H5Oopen(parent, name, Self.defaultID)
        guard object >= 0 else { return .other }  // e.g. a dangling soft link
        defer { H5Oclose(object) }
        switch H5Iget_type(object) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    private func linkName(group: hid_t, index: UInt64, groupPath: String) throws -> String {
        let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, Self.defaultID)
        guard length >= 0, length < 1 << 16 else {
            throw invalid("cannot read the name of member \(index) of '\(groupPath)'")
        }
        var buffer = [CChar](repeating: 0, count: length + 1)
        let written = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index,
                                         &buffer, buffer.count, Self.defaultID)
        guard written == length else { throw invalid("cannot read the name of member \(index) of '\(groupPath)'") }
        let bytes = buffer.prefix(length).map { UInt8(bitPattern: $0) }
        guard let name = String(validating: bytes, as: UTF8.self) else {
            throw invalid("member \(index) of '\(groupPath)' has a name that is not UTF-8")
        }
        return name
    }

    private func openDataset(_ datasetPath: String) throws -> hid_t {
        guard try linkExists(datasetPath) else { throw invalid("no dataset at '\(datasetPath)'") }
        let dataset = H5Dopen2(fileID, datasetPath, Self.defaultID)
        guard dataset >= 0 else { throw invalid("cannot open dataset '\(datasetPath)': \(Self.errorStackSummary())") }
        return dataset
    }

    /// Validated dims of a dataset's dataspace; the dataspace is closed here.
    private func shape(of dataset: hid_t, what: String) throws -> [Int] {
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw invalid("cannot read the dataspace of \(what)") }
        defer { H5Sclose(space) }
        let spaceClass = H5Sget_simple_extent_type(space)
        if spaceClass == H5S_SCALAR { return [] }
        guard spaceClass == H5S_SIMPLE else { throw invalid("\(what) has no data (null dataspace)") }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= Self.maxRank else { throw invalid("\(what) has rank \(rank); at most \(Self.maxRank) is accepted") }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 {
            guard H5Sget_simple_extent_dims(space, &dims, nil) == Int32(rank) else {
                throw invalid("cannot read the dimensions of \(what)")
            }
        }
        var count = 1
        var shape: [Int] = []
        for dim in dims {
            guard dim <= UInt64(Self.maxElements) else { throw invalid("\(what) has a dimension of \(dim)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= Self.maxElements else {
                throw invalid("\(what) has \(dims) elements, more than the \(Self.maxElements) accepted")
            }
            count = product
            shape.append(Int(dim))
        }
        return shape
    }

    /// Number of elements of an attribute's dataspace (0 for a null dataspace); closes it.
    private func elementCount(space: hid_t, what: String) throws -> Int {
        guard space >= 0 else { throw invalid("cannot read the dataspace of \(what)") }
        defer { H5Sclose(space) }
        if H5Sget_simple_extent_type(space) == H5S_NULL { return 0 }
        let count = H5Sget_simple_extent_npoints(space)
        guard count >= 0, count <= Int64(Self.maxElements) else { throw invalid("\(what) claims \(count) elements") }
        return Int(count)
    }

    private func isFiltered(_ dataset: hid_t, what: String) throws -> Bool {
        let plist = H5Dget_create_plist(dataset)
        guard plist >= 0 else { throw invalid("cannot read the creation properties of \(what)") }
        defer { H5Pclose(plist) }
        let filters = H5Pget_nfilters(plist)
        guard filters >= 0 else { throw invalid("cannot read the filters of \(what)") }
        return filters > 0
    }

    private func readVariableStrings(attr: hid_t, fileType: hid_t, count: Int, what: String) throws -> [String] {
        let memType = H5Tcopy(H5T_C_S1_g)
        guard memType >= 0 else { throw invalid("cannot make a string type for \(what)") }
        defer { H5Tclose(memType) }
        // Same character set as on disk: libhdf5 refuses to convert between sets.
        guard H5Tset_size(memType, -1 /* H5T_VARIABLE */) >= 0,
              H5Tset_cset(memType, H5Tget_cset(fileType)) >= 0 else {
            throw invalid("cannot make a string type for \(what)")
        }
        // Each entry takes at least a pointer-sized heap ID on disk: bounds the allocation.
        guard count <= fileSize / 8 else { throw invalid("\(what) claims \(count) strings, more than the file holds") }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        let status = pointers.withUnsafeMutableBytes { H5Aread(attr, memType, $0.baseAddress) }
        defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
        guard status >= 0 else { throw invalid("cannot read \(what): \(Self.errorStackSummary())") }
        return try pointers.enumerated().map { index, pointer in
            guard let pointer else { return "" }
            let length = strnlen(pointer, Int(Int32.max))
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw invalid("\(what) entry \(index) is not UTF-8")
            }
            return text
        }
    }

    private func readFixedStrings(attr: hid_t, fileType: hid_t, count: Int, what: String) throws -> [String] {
        let size = H5Tget_size(fileType)
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard size > 0, !overflow, total <= fileSize else {
            throw invalid("\(what) claims \(count) strings of \(size) bytes, more than the file holds")
        }
        var bytes = [UInt8](repeating: 0, count: total)
        // Reading with the file's own type: no conversion, padding kept.
        let status = bytes.withUnsafeMutableBytes { H5Aread(attr, fileType, $0.baseAddress) }
        guard status >= 0 else { throw invalid("cannot read \(what): \(Self.errorStackSummary())") }
        let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
        return try (0..<count).map { index in
            var entry = bytes[(index * size)..<((index + 1) * size)]
            if let end = entry.firstIndex(of: 0) { entry = entry[..<end] }
            if spacePadded {
                let end = entry.lastIndex(where: { $0 != 0x20 }).map { $0 + 1 } ?? entry.startIndex
                entry = entry[..<end]
            }
            guard let text = String(validating: entry, as: UTF8.self) else {
                throw invalid("\(what) entry \(index) is not UTF-8")
            }
            return text
        }
    }

    private static func className(_ typeClass: H5T_class_t) -> String {
        switch typeClass {
        case H5T_INTEGER: return "integer"
        case H5T_FLOAT: return "float"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "variable-length"
        default: return "HDF5 type class \(typeClass.rawValue)"
        }
    }

    /// The most specific message on libhdf5's error stack (it holds the failure of the
    /// last call until the next API call), for error reasons.
    private static func errorStackSummary() -> String {
        var messages: [String] = []
        let status = withUnsafeMutablePointer(to: &messages) { pointer in
            H5Ewalk2(defaultID, H5E_WALK_DOWNWARD, { _, error, data in
                guard let error, let data, let description = error.pointee.desc else { return 0 }
                let list = data.assumingMemoryBound(to: [String].self)
                list.pointee.append(String(cString: description))
                return 0
            }, pointer)
        }
        guard status >= 0, let last = messages.last(where: { !$0.isEmpty }) else {
            return "no detail from libhdf5"
        }
        return last
    }

    /// Parses the superblock (see `HDF5Superblock`) so that a truncated or mangled one is
    /// refused before libhdf5 parses it.
    private static func checkSuperblock(handle: FileHandle, path: String, signatureOffset: Int, fileSize: Int) throws {
        let bytes: [UInt8]
        do {
            try handle.seek(toOffset: 0)
            bytes = [UInt8](try handle.read(upToCount: signatureOffset + 256) ?? Data())
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot read: \(error)")
        }
        do {
            _ = try HDF5Superblock(bytes: bytes, signatureOffset: signatureOffset, fileSize: fileSize)
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "not a valid HDF5 file: \(error.reason)")
        }
    }

    /// Checks the file before libhdf5 sees it, so the common mistakes get plain reasons:
    /// a regular readable file, the signature, a sound superblock. Returns the file size.
    private static func checkSignature(path: String) throws -> Int {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FaceNetError.noSuchFile(path, advice: "check the weights path (`--weights`, `weightsPath:`); "
                + "the facenet512-casia preset's weights come from `facenet weights fetch`")
        }
        guard !isDirectory.boolValue else {
            throw FaceNetError.unreadableFile(path: path, reason: "is a directory, not an HDF5 file")
        }
        guard FileManager.default.isReadableFile(atPath: path),
              let handle = FileHandle(forReadingAtPath: path) else {
            throw FaceNetError.unreadableFile(path: path, reason: "permission denied")
        }
        defer { try? handle.close() }
        let size: Int
        do {
            size = Int(try handle.seekToEnd())
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot seek: \(error)")
        }
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]  // \x89HDF\r\n\x1a\n
        var head: [UInt8] = []
        for offset in [0, 512, 1024, 2048] where offset + signature.count <= size {
            do {
                try handle.seek(toOffset: UInt64(offset))
                head = [UInt8](try handle.read(upToCount: signature.count) ?? Data())
            } catch {
                throw FaceNetError.unreadableFile(path: path, reason: "cannot read: \(error)")
            }
            if head == signature {
                try checkSuperblock(handle: handle, path: path, signatureOffset: offset, fileSize: size)
                return size
            }
            if offset == 0, head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                throw FaceNetError.unreadableFile(
                    path: path,
                    reason: "is a zip archive, not HDF5 (a Keras 3 .keras file? its weights are model.weights.h5 inside)")
            }
        }
        throw FaceNetError.unreadableFile(
            path: path, reason: size == 0 ? "the file is empty" : "not an HDF5 file (no HDF5 signature)")
    }
}
