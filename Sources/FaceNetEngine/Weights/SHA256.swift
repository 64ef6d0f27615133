import CSHA256
import FaceNetKernels

/// SHA-256 (FIPS 180-4), streaming: `update` any number of times, then `finalize`.
/// Whole blocks go through the x86 SHA instructions when the CPU has them (~8× faster;
/// `CSHA256`), else through the portable rounds here.
///
/// The round constants and initial hash values are the first 32 bits of the fractional
/// parts of the cube roots of the first 64 primes and of the square roots of the first 8;
/// they are computed exactly here (integer roots in 128 bits) rather than typed in.
package struct SHA256: Sendable {
    package static let digestByteCount = 32
    private static let blockByteCount = 64

    private var state: [UInt32] = SHA256.initialState
    /// Bytes of an incomplete block, waiting for more input.
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0
    /// Whether whole blocks use the SHA instructions.
    let usesHardware: Bool

    /// Whether this CPU has the SHA instructions.
    static let hardwareAvailable = csha256_hardware_available() != 0

    package init() {
        usesHardware = Self.hardwareAvailable
    }

    /// `hardware: false` forces the portable rounds (tests compare the two).
    package init(hardware: Bool) {
        usesHardware = hardware && Self.hardwareAvailable
    }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        totalBytes &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(Self.blockByteCount - pending.count, bytes.count)
            pending += UnsafeRawBufferPointer(start: base, count: take)
            offset = take
            guard pending.count == Self.blockByteCount else { return }
            pending.withUnsafeBytes { block in
                if let address = block.baseAddress { compress(address, blocks: 1) }
            }
            pending.removeAll(keepingCapacity: true)
        }
        // Whole blocks straight from the input, no copy.
        let blocks = (bytes.count - offset) / Self.blockByteCount
        if blocks > 0 {
            compress(base + offset, blocks: blocks)
            offset += blocks * Self.blockByteCount
        }
        if offset < bytes.count {
            pending += UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset)
        }
    }

    package mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest: padding (0x80, zeros, the bit length as big-endian 64 bits) appended.
    package mutating func finalize() -> [UInt8] {
        let bitLength = totalBytes &* 8
        var tail: [UInt8] = [0x80]
        let used = (pending.count + 1) % Self.blockByteCount
        tail += [UInt8](repeating: 0, count: (Self.blockByteCount + 56 - used) % Self.blockByteCount)
        tail += (0..<8).map { UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64($0))) }
        let total = totalBytes
        tail.withUnsafeBytes { update($0) }
        totalBytes = total
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
    }

    /// The SHA-256 of `bytes` as 64 lowercase hex digits.
    package static func hex<Bytes: Sequence>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hexString(hasher.finalize())
    }

    package static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    // MARK: - Compression

    /// Compresses `blocks` consecutive 64-byte blocks.
    private mutating func compress(_ start: UnsafeRawPointer, blocks: Int) {
        if usesHardware {
            state.withUnsafeMutableBufferPointer { hash in
                guard let h = hash.baseAddress else { return }
                csha256_compress_hardware(h, start.assumingMemoryBound(to: UInt8.self), blocks)
            }
            return
        }
        // Raw pointers throughout: array subscripts are checked calls in debug builds,
        // where this loop would otherwise run at ~1 MB/s.
        Self.roundConstants.withUnsafeBufferPointer { constants in
            state.withUnsafeMutableBufferPointer { hash in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
                    guard let k = constants.baseAddress, let h = hash.baseAddress, let w = schedule.baseAddress else { return }
                    for index in 0..<blocks {
                        Self.compress(start + index * Self.blockByteCount, k: k, h: h, w: w)
                    }
                }
            }
        }
    }

    private static func compress(_ block: UnsafeRawPointer, k: UnsafePointer<UInt32>,
                                 h: UnsafeMutablePointer<UInt32>, w: UnsafeMutablePointer<UInt32>) {
        for i in 0..<16 {
            w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
        }
        for i in 16..<64 {
            let w15 = w[i - 15], w2 = w[i - 2]
            let s0 = (w15 >> 7 | w15 << 25) ^ (w15 >> 18 | w15 << 14) ^ (w15 >> 3)
            let s1 = (w2 >> 17 | w2 << 15) ^ (w2 >> 19 | w2 << 13) ^ (w2 >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        for i in 0..<64 {
            let sum1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
            let choice = (e & f) ^ (~e & g)
            let t1 = hh &+ sum1 &+ choice &+ k[i] &+ w[i]
            let sum0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            let t2 = sum0 &+ majority
            hh = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d
        h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }

    // MARK: - Constants

    private static let initialState: [UInt32] = primes(8).map { fractionBits(root: 2, of: $0) }
    private static let roundConstants: [UInt32] = primes(64).map { fractionBits(root: 3, of: $0) }

    private static func primes(_ count: Int) -> [UInt64] {
        var found: [UInt64] = []
        var candidate: UInt64 = 2
        while found.count < count {
            if found.allSatisfy({ candidate % $0 != 0 }) { found.append(candidate) }
            candidate += 1
        }
        return found
    }

    /// The first 32 fractional bits of p^(1/root): floor(p^(1/root) · 2^32) mod 2^32, which
    /// is the integer root of p · 2^(32·root), found by bisection.
    private static func fractionBits(root: Int, of prime: UInt64) -> UInt32 {
        let target = UInt128(prime) << (32 * root)
        var low: UInt128 = 0, high: UInt128 = 1 << 40  // p < 2^9, so the root is below 2^40
        while low < high {
            let middle = (low + high + 1) / 2
            var power: UInt128 = 1
            for _ in 0..<root { power *= middle }
            if power <= target { low = middle } else { high = middle - 1 }
        }
        return UInt32(truncatingIfNeeded: low)
    }
}
