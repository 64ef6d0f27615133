/// Assigns every layer output to a reusable buffer ("slot"), from the lifetimes the graph
/// implies: a slot is free again once the last layer reading it has run. Requested outputs
/// stay live to the end. Identity layers (Dropout) share their input's slot.
struct MemoryPlan {
    /// Slot of each planned layer's output, by step index.
    private(set) var slotOfStep: [Int] = []
    /// Floats each slot must hold.
    private(set) var capacities: [Int] = []

    /// - Parameters:
    ///   - counts: floats of each step's output.
    ///   - inputs: step indices each step reads.
    ///   - aliases: whether a step's output is its (single) input's buffer.
    ///   - keep: steps whose outputs must survive to the end.
    init(counts: [Int], inputs: [[Int]], aliases: [Bool], keep: Set<Int>) {
        let n = counts.count
        var lastUse = [Int](repeating: -1, count: n)
        for (step, reads) in inputs.enumerated() {
            for r in reads { lastUse[r] = max(lastUse[r], step) }
        }
        for k in keep { lastUse[k] = Int.max }
        var liveValues: [Int] = []  // per slot: live values using it
        slotOfStep = [Int](repeating: -1, count: n)
        for step in 0..<n {
            let slot: Int
            if aliases[step], let source = inputs[step].first {
                slot = slotOfStep[source]
            } else {
                slot = Self.pickSlot(need: counts[step], capacities: &capacities, liveValues: &liveValues)
            }
            slotOfStep[step] = slot
            liveValues[slot] += 1
            // An output nobody reads (and nobody asked for) is dead at once.
            if lastUse[step] < 0 { lastUse[step] = step }
            for r in Set(inputs[step]) where lastUse[r] == step {
                liveValues[slotOfStep[r]] -= 1
            }
            if lastUse[step] == step { liveValues[slot] -= 1 }
        }
    }

    /// Best fit among free slots; else grow the largest free one; else a new slot.
    private static func pickSlot(need: Int, capacities: inout [Int], liveValues: inout [Int]) -> Int {
        let free = capacities.indices.filter { liveValues[$0] == 0 }
        if let fit = free.filter({ capacities[$0] >= need }).min(by: { capacities[$0] < capacities[$1] }) {
            return fit
        }
        if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
            capacities[largest] = need
            return largest
        }
        capacities.append(need)
        liveValues.append(0)
        return capacities.count - 1
    }
}
