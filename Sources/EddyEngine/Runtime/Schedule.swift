/// When things are due: Spark's rule, a DStream with slide S produces an RDD
/// at T when `(T - zeroTime) % S == 0` (and T > zeroTime).
public struct Schedule: Sendable {
    public let plan: Plan
    public let zeroTime: Int64

    public init(plan: Plan, zeroTime: Int64) {
        self.plan = plan
        self.zeroTime = zeroTime
    }

    public func isDue(slide: Int64, at time: Int64) -> Bool {
        time > zeroTime && (time - zeroTime) % slide == 0
    }

    /// The last time each relation can still emit rows when its input ends
    /// with the batch at `lastInput`: a window drains until the last window
    /// that holds any input batch has been emitted.
    public func drainEnd(lastInput: Int64) -> Int64 {
        var last: [String: Int64] = [:]
        for s in plan.sources { last[s.name.lowercased()] = lastInput }
        var end = lastInput
        for step in plan.steps {
            switch step {
            case .stream(let i):
                let s = plan.streams[i]
                let t = s.reads.compactMap { last[$0] }.max() ?? lastInput
                last[s.name.lowercased()] = t
                end = max(end, t)
            case .window(let i):
                let w = plan.windows[i]
                let parentLast = last[w.parent] ?? lastInput
                // Largest T = zero + k*slide with T - range < parentLast,
                // i.e. T <= parentLast + range - parentSlide.
                let bound = parentLast + w.range - w.parentSlide
                let k = (bound - zeroTime) / w.slide
                let t = zeroTime + max(0, k) * w.slide
                last[w.name.lowercased()] = t
                end = max(end, t)
            case .statement:
                break
            }
        }
        return end
    }
}
