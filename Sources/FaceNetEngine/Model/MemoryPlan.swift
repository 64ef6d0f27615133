import FaceNetKernels

/// Assigns every planned value to a reusable buffer ("slot") from its lifetime: the step
/// that first writes it (birth) to the last step that reads it (death; requested outputs
/// live to the end). A slot is reused only by a value born after its occupant died, so a
/// step never writes over what it reads.
package struct MemoryPlan {
    /// Slot of each value.
    private(set) var slotOfValue: [Int] = []
    /// Floats each slot must hold.
    private(set) var capacities: [Int] = []

    package init(values: [ExecutionPlan.Value]) {
        slotOfValue = [Int](repeating: -1, count: values.count)
        var busyUntil: [Int] = []  // per slot: death of its current occupant
        for v in values.indices.sorted(by: { (values[$0].birth, $0) < (values[$1].birth, $1) }) {
            let value = values[v]
            let free = capacities.indices.filter { busyUntil[$0] < value.birth }
            let slot: Int
            if let fit = free.filter({ capacities[$0] >= value.count }).min(by: { capacities[$0] < capacities[$1] }) {
                slot = fit
            } else if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
                capacities[largest] = value.count
                slot = largest
            } else {
                capacities.append(value.count)
                busyUntil.append(0)
                slot = capacities.count - 1
            }
            busyUntil[slot] = value.death
            slotOfValue[v] = slot
        }
    }

    /// Total floats across slots.
    var totalFloats: Int { capacities.reduce(0, +) }
}
