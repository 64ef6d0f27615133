import FaceNetKernels

/// The HDF5 superblock (file format specification, section II.A), read and checked in
/// Swift before libhdf5 sees the file: a malformed file should fail here with a plain
/// reason, not inside libhdf5, whose parsers have a long record of crashing on bad input.
///
/// Checked: the version (0–3), the sizes of offsets and lengths (2, 4 or 8 bytes: h5py and
/// Keras always write 8), that the end-of-file address lies within the file (a truncated
/// file), and that the root group's object header and the other addresses the superblock
/// names lie before that end. The version 2/3 checksum is left to libhdf5.
package struct HDF5Superblock: Equatable {
    /// The "undefined address" of the format: all bits set.
    static let undefinedAddress = UInt64.max

    package let version: Int
    let offsetSize: Int
    let lengthSize: Int
    /// Absolute file offset that every address in the file is relative to.
    package let baseAddress: UInt64
    /// Relative address one past the last byte the file should have.
    let endOfFileAddress: UInt64
    /// Relative address of the root group's object header.
    let rootObjectHeader: UInt64

    /// Parses the superblock whose signature starts at `signatureOffset` in `bytes` (at
    /// least the first `signatureOffset + 256` bytes of the file, or all of it) and checks
    /// it against `fileSize`. Throws the reason for the caller to wrap.
    package init(bytes: [UInt8], signatureOffset: Int, fileSize: Int) throws(HDF5SuperblockError) {
        var cursor = Cursor(bytes: bytes, position: signatureOffset + 8)
        version = Int(try cursor.byte())
        guard (0...3).contains(version) else { throw .init("superblock version \(version) is unknown (0–3 exist)") }
        var addresses: [(String, UInt64)] = []
        if version <= 1 {
            let structureVersions = [try cursor.byte(), try cursor.byte()]  // free space, root entry
            _ = try cursor.byte()
            let sharedHeaderVersion = try cursor.byte()
            guard structureVersions == [0, 0], sharedHeaderVersion == 0 else {
                throw .init("superblock structure versions \(structureVersions + [sharedHeaderVersion]) are not 0")
            }
            offsetSize = Int(try cursor.byte())
            lengthSize = Int(try cursor.byte())
            try Self.checkSizes(offsetSize, lengthSize)
            cursor.skip(1 + 2 + 2 + 4 + (version == 1 ? 4 : 0))  // reserved, leaf K, node K, flags, v1 extras
            baseAddress = try cursor.address(offsetSize)
            addresses.append(("free-space info", try cursor.address(offsetSize)))
            endOfFileAddress = try cursor.address(offsetSize)
            addresses.append(("driver info", try cursor.address(offsetSize)))
            _ = try cursor.address(offsetSize)  // root entry: link name offset
            rootObjectHeader = try cursor.address(offsetSize)
        } else {
            offsetSize = Int(try cursor.byte())
            lengthSize = Int(try cursor.byte())
            try Self.checkSizes(offsetSize, lengthSize)
            cursor.skip(1)  // consistency flags
            baseAddress = try cursor.address(offsetSize)
            addresses.append(("superblock extension", try cursor.address(offsetSize)))
            endOfFileAddress = try cursor.address(offsetSize)
            rootObjectHeader = try cursor.address(offsetSize)
        }
        guard baseAddress != Self.undefinedAddress, endOfFileAddress != Self.undefinedAddress else {
            throw .init("the superblock has no base or end-of-file address")
        }
        let (end, overflow) = baseAddress.addingReportingOverflow(endOfFileAddress)
        guard !overflow, end <= UInt64(fileSize) else {
            throw .init("truncated: the superblock says the file ends at byte \(overflow ? "∞" : String(end)), it has \(fileSize) bytes")
        }
        guard rootObjectHeader < endOfFileAddress else {
            throw .init("the root group's address \(rootObjectHeader) lies past the end of the file (\(endOfFileAddress))")
        }
        for (name, address) in addresses where address != Self.undefinedAddress && address >= endOfFileAddress {
            throw .init("the \(name) address \(address) lies past the end of the file (\(endOfFileAddress))")
        }
    }

    private static func checkSizes(_ offsets: Int, _ lengths: Int) throws(HDF5SuperblockError) {
        guard [2, 4, 8].contains(offsets), [2, 4, 8].contains(lengths) else {
            throw .init("offsets of \(offsets) and lengths of \(lengths) bytes are not supported (2, 4 or 8)")
        }
    }

    /// Little-endian reads that fail, rather than trap, past the end of the bytes.
    private struct Cursor {
        package let bytes: [UInt8]
        package var position: Int

        package mutating func byte() throws(HDF5SuperblockError) -> UInt8 {
            guard position >= 0, position < bytes.count else { throw .init("the superblock is cut short") }
            defer { position += 1 }
            return bytes[position]
        }

        /// An unsigned little-endian value of `size` bytes; all bits set stays undefined.
        mutating func address(_ size: Int) throws(HDF5SuperblockError) -> UInt64 {
            var value: UInt64 = 0
            for index in 0..<size { value |= UInt64(try byte()) << (8 * index) }
            return size < 8 && value == (1 << (8 * size)) - 1 ? HDF5Superblock.undefinedAddress : value
        }

        package mutating func skip(_ count: Int) { position += count }
    }
}

/// Why a superblock was refused (wrapped into a `FaceNetError` naming the file).
package struct HDF5SuperblockError: Error, Equatable {
    package let reason: String
    package init(_ reason: String) { self.reason = reason }
}
