/// The stored embeddings as one contiguous row-major matrix: `count` rows of `dimension`
/// floats, each l2-normalised on the way in, so that the inner product of two rows is
/// their cosine similarity. Exact search multiplies queries with it; the HNSW graph
/// indexes its rows by position. Rows are only appended: a removed face keeps its row
/// (the gallery masks it) until the matrix is rebuilt.
///
/// Layout: row `i` is `storage[i * dimension ..< (i + 1) * dimension]`.
package struct EmbeddingMatrix: Sendable, Equatable {
    package let dimension: Int
    package private(set) var storage: [Float] = []

    package init(dimension: Int) {
        precondition(dimension > 0, "an embedding has at least one component")
        self.dimension = dimension
    }

    /// `rows` (count × dimension floats, row-major), already normalised.
    package init(dimension: Int, normalizedRows rows: [Float]) {
        precondition(dimension > 0 && rows.count % dimension == 0, "rows must be whole")
        self.dimension = dimension
        self.storage = rows
    }

    package var count: Int { storage.count / dimension }

    /// Appends `vector` (dimension floats) l2-normalised; returns its row. The caller has
    /// checked the dimension and that every value is finite and the norm is not zero.
    @discardableResult
    package mutating func append(_ vector: [Float]) -> Int {
        precondition(vector.count == dimension, "dimension checked by the caller")
        storage.append(contentsOf: Self.normalized(vector))
        return count - 1
    }

    package mutating func reserveCapacity(rows: Int) { storage.reserveCapacity(rows * dimension) }

    /// Row `i` as a new array (tests, export).
    package func row(_ i: Int) -> [Float] { Array(storage[i * dimension..<(i + 1) * dimension]) }

    /// `vector / ‖vector‖` (in Double, then rounded once).
    package static func normalized(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return vector.map { Float(Double($0) / norm) }
    }
}

/// Inner product of two `count`-float vectors: the kernel of exact and HNSW search.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= count {
        acc0 += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
        acc1 += UnsafeRawPointer(a + i + 16).loadUnaligned(as: SIMD16<Float>.self)
            * UnsafeRawPointer(b + i + 16).loadUnaligned(as: SIMD16<Float>.self)
        i += 32
    }
    var sum = (acc0 + acc1).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}
