#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import FaceNetKernels

/// Links many appended HNSW nodes at once on several threads (`HNSWIndex.insert(rowsUpTo:
/// in:threads:)`), the way hnswlib's parallel `add_items` does:
///
/// - every node's lists are guarded by a lock (striped: node `i` by lock `i mod stripes`);
///   a thread holds at most one of them at a time, so two threads never wait on each other
///   in a cycle. A search copies a list under its lock and scores it after unlocking;
///   writing a list (the new node's, or a neighbour's reverse link and its re-selection by
///   the heuristic) happens under that list's lock;
/// - the entry point and top level are read under a global lock; a node that will be the
///   new top holds that lock until it is linked, so no other insertion starts from a top
///   layer that is not connected yet.
///
/// Node storage is the index's own arrays, sized for every node before linking starts
/// (`appendNode`), so nothing moves while threads read and write through these pointers.
/// Levels, list offsets and vectors are only read. The steps mirror the one-by-one
/// `insert(row:in:)` (greedy descent, an `efConstruction` beam per layer, the heuristic),
/// which stays the reference the tests compare recall with.
final class HNSWParallelBuild: @unchecked Sendable {
    /// Fewer new rows than this are inserted one by one.
    static let minimumRows = 2_048
    private static let stripes = 16_384

    private let m: Int, efConstruction: Int, stride0: Int, strideUpper: Int
    private let vectors: UnsafePointer<Float>, dimension: Int, nodes: Int
    private let levels: UnsafePointer<UInt8>, upperStart: UnsafePointer<Int32>
    private let level0: UnsafeMutablePointer<Int32>, upper: UnsafeMutablePointer<Int32>?
    private let deleted: UnsafePointer<UInt64>, hasDeletions: Bool
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private let global: UnsafeMutablePointer<pthread_mutex_t>
    /// Guarded by `global`.
    private(set) var entryPoint: Int32
    private(set) var maxLevel: Int

    init(parameters: HNSWParameters, vectors: UnsafePointer<Float>, dimension: Int, nodes: Int,
         levels: UnsafePointer<UInt8>, upperStart: UnsafePointer<Int32>, level0: UnsafeMutablePointer<Int32>,
         upper: UnsafeMutablePointer<Int32>?, deleted: UnsafePointer<UInt64>, hasDeletions: Bool,
         entryPoint: Int32, maxLevel: Int) {
        (m, efConstruction) = (parameters.m, parameters.efConstruction)
        (stride0, strideUpper) = (2 * parameters.m + 1, parameters.m + 1)
        (self.vectors, self.dimension, self.nodes) = (vectors, dimension, nodes)
        (self.levels, self.upperStart, self.level0, self.upper, self.deleted) = (levels, upperStart, level0, upper, deleted)
        self.hasDeletions = hasDeletions
        (self.entryPoint, self.maxLevel) = (entryPoint, maxLevel)
        locks = .allocate(capacity: Self.stripes)
        for i in 0 ..< Self.stripes { pthread_mutex_init(locks + i, nil) }
        global = .allocate(capacity: 1)
        pthread_mutex_init(global, nil)
    }

    deinit {
        for i in 0 ..< Self.stripes { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
        pthread_mutex_destroy(global)
        global.deallocate()
    }

    /// Links `rows` (appended, with `levels[i]` for `rows.lowerBound + i`), `threads` at once,
    /// each taking the next row from a shared counter.
    func link(rows: Range<Int>, levels newLevels: [Int], threads: Int) {
        precondition(newLevels.count == rows.count, "one level per row")
        precondition(entryPoint >= 0, "the graph has its first node before a parallel build")
        let next = LockedValue(rows.lowerBound)
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
            var scratch = HNSWSearchScratch()
            while true {
                let row = next.claim()
                if row >= rows.upperBound { break }
                link(row: Int32(row), level: newLevels[row - rows.lowerBound], scratch: &scratch)
            }
        }
    }

    @inline(__always) private func lock(_ node: Int32) { pthread_mutex_lock(locks + Int(node) % Self.stripes) }
    @inline(__always) private func unlock(_ node: Int32) { pthread_mutex_unlock(locks + Int(node) % Self.stripes) }

    @inline(__always) private func list(_ node: Int32, layer: Int) -> UnsafeMutablePointer<Int32> {
        // Upper lists exist only for nodes with a level ≥ 1, and `upper` is non-empty then.
        layer == 0 ? level0 + Int(node) * stride0
            : upper.unsafelyUnwrapped + Int(upperStart[Int(node)]) + (layer - 1) * strideUpper
    }

    @inline(__always) private func isDeleted(_ node: Int32) -> Bool {
        deleted[Int(node) >> 6] & (1 << UInt64(node & 63)) != 0
    }

    /// Copies `node`'s list on `layer` into `out` under its lock; returns its length.
    @inline(__always)
    private func copyList(_ node: Int32, layer: Int, into out: UnsafeMutableBufferPointer<Int32>) -> Int {
        lock(node)
        let list = list(node, layer: layer)
        let n = min(Int(list[0]), out.count)
        for i in 0 ..< n { out[i] = list[1 + i] }
        unlock(node)
        return n
    }

    private func link(row: Int32, level: Int, scratch: inout HNSWSearchScratch) {
        pthread_mutex_lock(global)
        let (entry, top) = (entryPoint, maxLevel)
        let becomesTop = level > top
        if !becomesTop { pthread_mutex_unlock(global) }

        let query = vectors + Int(row) * dimension
        var current = entry
        var similarity = dot(query, vectors + Int(current) * dimension, count: dimension)
        for layer in stride(from: top, to: level, by: -1) {
            greedyStep(query: query, layer: layer, current: &current, similarity: &similarity)
        }
        let entryDeleted = isDeleted(entry)
        // Every layer's neighbours are chosen first, then the node's own lists written, and
        // only then the reverse links that make it reachable: another thread that reaches
        // the node finds all its lists in place. (Written layer by layer, a thread could
        // descend onto it and start its layer-0 beam from an empty list, linking its own
        // node to this one alone: measured 65 unreachable nodes in 20,000.) The choices are
        // the one-by-one insert's: a layer's search does not read the links made above it.
        let lowest = min(level, top)
        var chosen = [[Int32]](repeating: [], count: lowest + 1)
        for layer in stride(from: lowest, through: 0, by: -1) {
            scratch.startVisit(nodes: nodes)
            searchLayer(query: query, entry: current, entrySimilarity: similarity, layer: layer, scratch: &scratch)
            if entryDeleted {
                // As the one-by-one insert: a deleted entry point keeps receiving links.
                let s = dot(query, vectors + Int(entry) * dimension, count: dimension)
                HNSWHeap.push(&scratch.results, ~HNSWKey.make(s, entry))
                if scratch.results.count > efConstruction { HNSWHeap.pop(&scratch.results) }
            }
            scratch.selection.removeAll(keepingCapacity: true)
            for complemented in scratch.results { scratch.selection.append(~complemented) }
            if scratch.selection.isEmpty { continue }
            scratch.selection.sort(by: >)
            current = HNSWKey.id(scratch.selection[0])
            similarity = HNSWKey.similarity(scratch.selection[0])
            HNSWIndex.selectNeighbours(&scratch.selection, limit: m, picked: &scratch.picked,
                                       vectors: vectors, dimension: dimension)
            chosen[layer] = scratch.picked
        }
        lock(row)
        for (layer, picked) in chosen.enumerated() {
            let own = list(row, layer: layer)
            own[0] = Int32(picked.count)
            for (i, id) in picked.enumerated() { own[1 + i] = id }
        }
        unlock(row)
        for (layer, picked) in chosen.enumerated() {
            for neighbour in picked { addLink(from: neighbour, to: row, layer: layer, scratch: &scratch) }
        }
        if becomesTop {
            (entryPoint, maxLevel) = (row, level)
            pthread_mutex_unlock(global)
        }
    }

    /// `HNSWIndex.greedyStep`, reading each list under its lock.
    private func greedyStep(query: UnsafePointer<Float>, layer: Int, current: inout Int32, similarity: inout Float) {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: m) { ids in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { similarities in
                var changed = true
                while changed {
                    changed = false
                    let n = copyList(current, layer: layer, into: ids)
                    HNSWIndex.similaritiesOf(ids, count: n, query: query, vectors: vectors, dimension: dimension,
                                             into: similarities)
                    for i in 0 ..< n where similarities[i] > similarity {
                        similarity = similarities[i]
                        current = ids[i]
                        changed = true
                    }
                }
            }
        }
    }

    /// `HNSWIndex.searchLayer` with `efConstruction`: the best live nodes reached are left in
    /// `scratch.results` (complemented keys, worst on top). Lists are copied under their
    /// locks, then the unvisited ones scored eight at a time.
    private func searchLayer(query: UnsafePointer<Float>, entry: Int32, entrySimilarity: Float, layer: Int,
                             scratch: inout HNSWSearchScratch) {
        let ef = efConstruction
        let generation = scratch.generation
        var lowerBound = -Float.infinity
        let width = layer == 0 ? 2 * m : m
        scratch.stamps[Int(entry)] = generation
        HNSWHeap.push(&scratch.candidates, HNSWKey.make(entrySimilarity, entry))
        if !isDeleted(entry) {
            HNSWHeap.push(&scratch.results, ~HNSWKey.make(entrySimilarity, entry))
            lowerBound = entrySimilarity
        }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: width) { neighbours in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: width) { batch in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { similarities in
            scratch.stamps.withUnsafeMutableBufferPointer { stamps in
                while let top = scratch.candidates.first {
                    // With deleted nodes the beam goes on until it holds ef live ones.
                    if HNSWKey.similarity(top) < lowerBound && (scratch.results.count >= ef || !hasDeletions) { break }
                    HNSWHeap.pop(&scratch.candidates)
                    let n = copyList(HNSWKey.id(top), layer: layer, into: neighbours)
                    var pending = 0
                    for i in 0 ..< n {
                        let neighbour = neighbours[i]
                        if stamps[Int(neighbour)] == generation { continue }
                        stamps[Int(neighbour)] = generation
                        batch[pending] = neighbour
                        pending += 1
                    }
                    HNSWIndex.similaritiesOf(batch, count: pending, query: query, vectors: vectors,
                                             dimension: dimension, into: similarities)
                    for j in 0 ..< pending {
                        let s = similarities[j], neighbour = batch[j]
                        if scratch.results.count < ef || s > lowerBound {
                            HNSWHeap.push(&scratch.candidates, HNSWKey.make(s, neighbour))
                            if !isDeleted(neighbour) {
                                HNSWHeap.push(&scratch.results, ~HNSWKey.make(s, neighbour))
                                if scratch.results.count > ef { HNSWHeap.pop(&scratch.results) }
                            }
                            if let worst = scratch.results.first { lowerBound = HNSWKey.similarity(~worst) }
                        }
                    }
                }
            }
        }
        }
        }
    }

    /// `HNSWIndex.addLink` under `node`'s lock: the reverse link, and a full list re-selected
    /// by the heuristic from its links and the new one.
    private func addLink(from node: Int32, to newNode: Int32, layer: Int, scratch: inout HNSWSearchScratch) {
        let capacity = layer == 0 ? 2 * m : m
        lock(node)
        HNSWIndex.addLink(to: list(node, layer: layer), capacity: capacity, newNode: newNode,
                          base: vectors + Int(node) * dimension, vectors: vectors, dimension: dimension, scratch: &scratch)
        unlock(node)
    }
}
