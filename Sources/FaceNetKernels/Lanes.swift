/// Eight-lane loads and stores over channel runs whose length need not be a multiple of 8
/// (the Winograd transforms).

/// Calls `body(first, lanes)` for each group of up to 8 consecutive values of `count`:
/// kernels that work on 8 channels at a time, the last group partial.
@inline(__always)
func forEachLaneGroup(_ count: Int, _ body: (Int, Int) -> Void) {
    var first = 0
    while first < count {
        body(first, min(8, count - first))
        first += 8
    }
}

@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

@inline(__always)
func storeLanes(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 { return UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }
    for i in 0..<lanes { p[i] = v[i] }
}

/// Stores `v` at `p`, or adds it to what is there when `accumulate` (a residual sum).
@inline(__always)
func writeOutput(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int, _ accumulate: Bool) {
    storeLanes(accumulate ? v + loadLanes(p, lanes) : v, p, lanes)
}
