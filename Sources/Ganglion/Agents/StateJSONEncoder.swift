import Foundation

/// Writes an agent's Codable state as JSON straight into bytes, as `JSONEncoder` with its default
/// settings would (compact, keys in the order encoded; ``JSONDecoder`` reads either the same):
/// `JSONEncoder` builds a tree of values and keeps a coding path for every value, which was a
/// twentieth of the runtime's time per event for a small state. Containers are written as they
/// are opened; what this cannot write the same way gives `nil` (the caller then uses
/// `JSONEncoder`): the types `JSONEncoder` writes specially (`Data`, `URL`, `Decimal`), super
/// encoders, a container written to after a later sibling was opened, a value that both writes a
/// single value and opens a container (or opens two), a key written twice, non-finite numbers,
/// any error thrown while encoding (even one the value catches itself), and a value that
/// encodes nothing at the top. Coding paths are always empty.
/// Public for the benchmark's hand-written floor, which stores the same state.
public enum StateJSONEncoder {
    /// `value` as JSON bytes; nil when only `JSONEncoder` can write it.
    public static func encode<T: Encodable>(_ value: T) -> [UInt8]? {
        let writer = Writer()
        do {
            try writer.value(value, depth: 0)
        } catch {
            return nil
        }
        return writer.failed ? nil : writer.bytes
    }

    /// Something only `JSONEncoder` writes as it does.
    struct Unsupported: Error {}

    /// The output and the stack of open containers (each closed when a shallower one writes next).
    /// One encoding uses it, on one thread, and no access to a property spans a call that could
    /// touch it again: its properties go without the runtime's exclusivity checks (about 1.5% of the
    /// agent's profile, a check on every byte appended).
    final class Writer {
        @exclusivity(unchecked) var bytes: [UInt8] = []
        /// Set by a use that could not be written (the result is then not used).
        @exclusivity(unchecked) var failed = false
        /// The open containers, outermost first (one stack: one allocation for all of them).
        @exclusivity(unchecked) private var open: [Container] = []
        /// The keys written in the open keyed containers, each container's from its `firstKey` on.
        @exclusivity(unchecked) private var keys: [String] = []
        /// Per depth of the value being encoded: whether it wrote a value or opened a container
        /// (a bit per depth below 64, the set above).
        @exclusivity(unchecked) private var claimedBits: UInt64 = 0
        @exclusivity(unchecked) private var claimedDeep: Set<Int> = []
        /// Containers ever opened (an id per container, to tell a closed one from an open one).
        @exclusivity(unchecked) private var opened = 0

        /// An open container: its closing byte, whether it holds an element yet, its id, and
        /// where its keys start in ``keys``.
        private struct Container {
            var end: UInt8
            var filled = false
            var id: Int
            var firstKey: Int
            /// Its keys as a set, once it has more than a few (looked up instead of scanned).
            var keySet: Set<String>?
        }

        init() { bytes.reserveCapacity(64) }

        /// Closes every container deeper than `depth`; throws when the container at `depth` is
        /// not the one `id` names (it was closed already).
        func enter(_ id: Int, depth: Int) throws {
            guard depth <= open.count, depth == 0 || open[depth - 1].id == id else {
                failed = true
                throw Unsupported()
            }
            close(deeperThan: depth)
        }

        /// Closes every container deeper than `depth`.
        func close(deeperThan depth: Int) {
            while open.count > depth {
                let container = open.removeLast()
                bytes.append(container.end)
                keys.removeSubrange(container.firstKey...)
            }
        }

        /// Opens a container at `depth` (written at once); its id, or nil when another is open
        /// there (a value asking for a second container) or its parent was closed.
        func openContainer(_ start: UInt8, _ end: UInt8, depth: Int) -> Int? {
            guard open.count == depth - 1 else {
                failed = true
                return nil
            }
            bytes.append(start)
            opened += 1
            open.append(Container(end: end, id: opened, firstKey: keys.count))
            return opened
        }

        /// A separator before the next element of the container at `depth`.
        func separate(depth: Int) {
            if open[depth - 1].filled { bytes.append(UInt8(ascii: ",")) } else { open[depth - 1].filled = true }
        }

        /// Writes a key of the keyed container at `depth`; throws when it was written already.
        func key(_ key: String, depth: Int) throws {
            guard isNewKey(key, depth: depth) else { throw fail() }
            string(key)
            bytes.append(UInt8(ascii: ":"))
        }

        /// Notes `key` in the container at `depth`; false when it holds the key already. A few
        /// keys are scanned; past them the container's keys go into a set.
        private func isNewKey(_ key: String, depth: Int) -> Bool {
            let firstKey = open[depth - 1].firstKey
            if open[depth - 1].keySet != nil { return open[depth - 1].keySet!.insert(key).inserted }
            guard !keys[firstKey...].contains(key) else { return false }
            keys.append(key)
            if keys.count - firstKey > 8 { open[depth - 1].keySet = Set(keys[firstKey...]) }
            return true
        }

        func string(_ string: String) {
            bytes.append(UInt8(ascii: "\""))
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case UInt8(ascii: "/"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "/")]
                case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
                case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                default: bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }

        func literal(_ text: String) { bytes.append(contentsOf: text.utf8) }

        /// Marks the output unusable; the error to throw.
        func fail() -> Unsupported {
            failed = true
            return Unsupported()
        }

        /// Claims the value at `depth` for one single value or one container; throws (and marks
        /// the output unusable) when it was claimed already.
        func claim(_ depth: Int) throws {
            guard !isClaimed(depth) else { throw fail() }
            setClaimed(depth, true)
        }

        private func isClaimed(_ depth: Int) -> Bool {
            depth < 64 ? claimedBits & (1 << UInt64(depth)) != 0 : claimedDeep.contains(depth)
        }

        private func setClaimed(_ depth: Int, _ claimed: Bool) {
            if depth < 64 {
                if claimed { claimedBits |= 1 << UInt64(depth) } else { claimedBits &= ~(1 << UInt64(depth)) }
            } else if claimed {
                claimedDeep.insert(depth)
            } else {
                claimedDeep.remove(depth)
            }
        }

        func number<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) throws {
            guard value.isFinite else { throw fail() }
            var text = value.description
            // As JSONEncoder: an integral value without its ".0".
            if text.hasSuffix(".0") { text.removeLast(2) }
            literal(text)
        }

        /// `value` at `depth` (the depth its own containers open at, less one).
        func value<T: Encodable>(_ value: T, depth: Int) throws {
            if T.self == Data.self || T.self == URL.self || T.self == Decimal.self { throw fail() }
            let before = bytes.count
            // The value's own claim (restored after: a single value's value encodes at its depth).
            let outer = isClaimed(depth)
            setClaimed(depth, false)
            do {
                try value.encode(to: ValueEncoder(writer: self, depth: depth))
            } catch {
                failed = true
                throw error
            }
            setClaimed(depth, outer)
            guard open.count >= depth else { throw fail() }
            close(deeperThan: depth)
            // A value that wrote nothing: JSONEncoder refuses it at the top, and writes an empty
            // object below.
            if bytes.count == before {
                guard depth > 0 else { throw fail() }
                bytes += [UInt8(ascii: "{"), UInt8(ascii: "}")]
            }
        }
    }

    /// The encoder one value writes itself to.
    struct ValueEncoder: Encoder {
        let writer: Writer
        let depth: Int
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            guard (try? writer.claim(depth)) != nil else { return ValueEncoder.discarding.container(keyedBy: type) }
            return nested(keyedBy: type)
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            guard (try? writer.claim(depth)) != nil else { return ValueEncoder.discarding.unkeyedContainer() }
            return nestedUnkeyed()
        }

        /// A keyed container opened here without claiming the value (a container's nested one,
        /// whose key or position was just written).
        func nested<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            guard let id = writer.openContainer(UInt8(ascii: "{"), UInt8(ascii: "}"), depth: depth + 1) else {
                return ValueEncoder.discarding.container(keyedBy: type)
            }
            return KeyedEncodingContainer(Keyed<Key>(writer: writer, depth: depth + 1, id: id))
        }

        /// An unkeyed container opened as ``nested(keyedBy:)`` is.
        func nestedUnkeyed() -> any UnkeyedEncodingContainer {
            guard let id = writer.openContainer(UInt8(ascii: "["), UInt8(ascii: "]"), depth: depth + 1) else {
                return ValueEncoder.discarding.unkeyedContainer()
            }
            return Unkeyed(writer: writer, depth: depth + 1, id: id)
        }

        /// An encoder whose output is thrown away (given where the real one cannot write: the
        /// writer is marked failed first).
        static var discarding: ValueEncoder { ValueEncoder(writer: Writer(), depth: 0) }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(writer: writer, depth: depth) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let writer: Writer
        let depth: Int
        let id: Int
        var codingPath: [any CodingKey] { [] }

        private func field(_ key: Key) throws {
            try writer.enter(id, depth: depth)
            writer.separate(depth: depth)
            try writer.key(key.stringValue, depth: depth)
        }

        mutating func encodeNil(forKey key: Key) throws { try field(key); writer.literal("null") }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try field(key); writer.literal(value ? "true" : "false") }
        mutating func encode(_ value: String, forKey key: Key) throws { try field(key); writer.string(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try field(key); try writer.number(value) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try field(key); try writer.number(value) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try field(key); writer.literal(String(value)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try field(key)
            try writer.value(value, depth: depth)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            // Opened at once, after its key (a write out of order is caught by the next write).
            try? field(key)
            return ValueEncoder(writer: writer, depth: depth).nested(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            try? field(key)
            return ValueEncoder(writer: writer, depth: depth).nestedUnkeyed()
        }

        mutating func superEncoder() -> any Encoder {
            writer.failed = true
            return ValueEncoder.discarding
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder() }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let writer: Writer
        let depth: Int
        let id: Int
        var codingPath: [any CodingKey] { [] }
        private(set) var count = 0

        init(writer: Writer, depth: Int, id: Int) {
            self.writer = writer
            self.depth = depth
            self.id = id
        }

        private mutating func element() throws {
            try writer.enter(id, depth: depth)
            writer.separate(depth: depth)
            count += 1
        }

        mutating func encodeNil() throws { try element(); writer.literal("null") }
        mutating func encode(_ value: Bool) throws { try element(); writer.literal(value ? "true" : "false") }
        mutating func encode(_ value: String) throws { try element(); writer.string(value) }
        mutating func encode(_ value: Double) throws { try element(); try writer.number(value) }
        mutating func encode(_ value: Float) throws { try element(); try writer.number(value) }
        mutating func encode(_ value: Int) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: Int8) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: Int16) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: Int32) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: Int64) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: UInt) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: UInt8) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: UInt16) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: UInt32) throws { try element(); writer.literal(String(value)) }
        mutating func encode(_ value: UInt64) throws { try element(); writer.literal(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try element()
            try writer.value(value, depth: depth)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            try? element()
            return ValueEncoder(writer: writer, depth: depth).nested(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            try? element()
            return ValueEncoder(writer: writer, depth: depth).nestedUnkeyed()
        }

        mutating func superEncoder() -> any Encoder {
            writer.failed = true
            return ValueEncoder.discarding
        }
    }

    /// A value written in place of its container's element (or as the whole document); one
    /// value only, and not beside a container of the same value.
    struct Single: SingleValueEncodingContainer {
        let writer: Writer
        let depth: Int
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws { try writer.claim(depth); writer.literal("null") }
        mutating func encode(_ value: Bool) throws { try writer.claim(depth); writer.literal(value ? "true" : "false") }
        mutating func encode(_ value: String) throws { try writer.claim(depth); writer.string(value) }
        mutating func encode(_ value: Double) throws { try writer.claim(depth); try writer.number(value) }
        mutating func encode(_ value: Float) throws { try writer.claim(depth); try writer.number(value) }
        mutating func encode(_ value: Int) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: Int8) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: Int16) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: Int32) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: Int64) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: UInt) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: UInt8) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: UInt16) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: UInt32) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode(_ value: UInt64) throws { try writer.claim(depth); writer.literal(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try writer.claim(depth)
            try writer.value(value, depth: depth)
        }
    }
}
