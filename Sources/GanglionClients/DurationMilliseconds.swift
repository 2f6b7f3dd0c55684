extension Duration {
    /// Whole milliseconds (sub-millisecond parts dropped).
    package var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
