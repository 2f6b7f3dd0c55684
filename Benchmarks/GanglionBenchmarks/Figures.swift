/// Formatting and statistics shared by the benchmarks.
enum Figures {
    /// The median of `values` (which must not be empty).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// The `p`-th percentile (0…100) of nanosecond samples, in microseconds.
    static func percentileMicros(_ samples: [UInt64], _ p: Double) -> Double {
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p / 100).rounded(.down)))
        return Double(sorted[index]) / 1000
    }

    /// `value` with `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int = 1) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = "\(rounded)"
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
            if digits == 0 { text = String(text[..<dot]) }
        }
        return text
    }

    /// A rate in messages per second, e.g. `1.02 M msg/s`.
    static func rate(_ perSecond: Double, unit: String = "msg/s") -> String {
        perSecond >= 1_000_000 ? "\(fixed(perSecond / 1_000_000, 2)) M \(unit)" : "\(fixed(perSecond / 1000, 1)) k \(unit)"
    }

    /// Pads `text` on the right to `width` characters.
    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
