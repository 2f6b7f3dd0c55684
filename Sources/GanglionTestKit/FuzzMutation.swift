import Foundation

/// The seed of a fuzz run: `GANGLION_FUZZ_SEED` when set, a fixed seed in CI (a red CI must
/// replay), a random one otherwise. Printed to stderr at once, so even a crash shows it.
public enum FuzzSeed {
    /// This run's seed; `ci` is the fixed seed used when `CI=true`.
    public static func current(ci: UInt64) -> UInt64 {
        let environment = ProcessInfo.processInfo.environment
        let seed = UInt64(environment["GANGLION_FUZZ_SEED"] ?? "") ?? (environment["CI"] == "true" ? ci : UInt64.random(in: 1...1_000_000))
        FileHandle.standardError.write(Data("fuzz seed \(seed) (replay with GANGLION_FUZZ_SEED=\(seed))\n".utf8))
        return seed
    }
}

/// Byte-level mutations of a valid input, as a coverage-blind fuzzer makes them: bit flips,
/// inserted and deleted runs, truncation, duplication, and the integers decoders trip on (the
/// extremes of Int64 and Int32, -1, 0) written over a random spot as big-endian words or varints.
public enum FuzzMutation {
    /// Integers at the edges of what decoders check.
    public static let interesting: [Int64] = [0, -1, 1, 0x7F, 0x80, Int64(Int32.max), Int64(Int32.min), Int64.max, Int64.min, Int64.max - 7, 1 << 31, 1 << 40]

    /// One to four random mutations of `input`.
    public static func mutate(_ input: [UInt8], _ random: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 8 {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1) << UInt8(random.next() % 8)
            case 1 where !bytes.isEmpty:
                bytes[position] = UInt8(truncatingIfNeeded: random.next())
            case 2:
                bytes.insert(contentsOf: (0..<(1 + random.next() % 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: position)
            case 3 where !bytes.isEmpty:
                bytes.removeSubrange(position..<min(bytes.count, position + 1 + Int(random.next() % 16)))
            case 4:
                bytes = Array(bytes.prefix(position))
            case 5 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(random.next() % 32))
                bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
            case 6:
                let value = interesting[Int(random.next() % UInt64(interesting.count))]
                let word = withUnsafeBytes(of: value.bigEndian) { Array($0) }
                let width = [1, 2, 4, 8][Int(random.next() % 4)]
                let end = min(bytes.count, position + width)
                bytes.replaceSubrange(position..<end, with: word.suffix(width))
            default:
                let value = interesting[Int(random.next() % UInt64(interesting.count))]
                var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
                var varint: [UInt8] = []
                while zigzag >= 0x80 {
                    varint.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
                    zigzag >>= 7
                }
                varint.append(UInt8(zigzag))
                let end = min(bytes.count, position + 1 + Int(random.next() % 2))
                bytes.replaceSubrange(position..<end, with: varint)
            }
        }
        return bytes
    }
}
