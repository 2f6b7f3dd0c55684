import Foundation
import GanglionTestKit
import XCTest
@testable import Ganglion

/// ``StateJSONEncoder`` writes what `JSONEncoder` writes, as `JSONDecoder` reads it: over many
/// seeded random states, and for what it leaves to `JSONEncoder` (its special types, super
/// encoders, containers written out of order, non-finite numbers).
final class StateJSONEncoderTests: XCTestCase {
    struct Sample: Codable, Equatable {
        var int: Int
        var name: String
        var ratio: Double
        var float: Float
        var flag: Bool
        var maybe: Int?
        var list: [Int64]
        var nested: [Sample]
        var table: [String: UInt8]
        var byNumber: [Int: String]
        var date: Date
        var unit: Empty
        var pair: Pair?
    }

    struct Empty: Codable, Equatable {}
    enum Pair: Codable, Equatable { case left(Int), right(name: String) }

    func testRandomStatesReadBackAsJSONEncodersDo() throws {
        let seed = FuzzSeed.current(ci: 20_261_206)
        var random = SeededGenerator(seed: seed)
        for round in 0..<500 {
            let sample = Self.sample(&random, depth: 0)
            let fast = try XCTUnwrap(StateJSONEncoder.encode(sample), "seed \(seed) round \(round)")
            let foundation = try JSONEncoder().encode(sample)
            let read = try JSONDecoder().decode(Sample.self, from: Data(fast))
            XCTAssertEqual(read, try JSONDecoder().decode(Sample.self, from: foundation), "seed \(seed) round \(round): \(String(decoding: fast, as: UTF8.self))")
        }
    }

    func testSmallStatesAreWrittenByteForByteAsJSONEncoderWritesThem() throws {
        // One key each: JSONEncoder orders the keys of an object by hash.
        struct Count: Codable { var count = 41 }
        struct Label: Codable { var label = "a/\"b\"\n\u{1}é" }
        XCTAssertEqual(StateJSONEncoder.encode(Count()), Array(try JSONEncoder().encode(Count())))
        XCTAssertEqual(StateJSONEncoder.encode(Label()), Array(try JSONEncoder().encode(Label())))
        XCTAssertEqual(StateJSONEncoder.encode(12), Array("12".utf8))
        XCTAssertEqual(StateJSONEncoder.encode([1.5, 2.0]), Array("[1.5,2]".utf8))
        XCTAssertEqual(StateJSONEncoder.encode(Empty()), Array("{}".utf8))
    }

    func testWhatOnlyJSONEncoderWritesIsLeftToIt() throws {
        struct WithData: Codable { var blob = Data([1, 2, 3]) }
        struct WithURL: Codable { var link = URL(string: "https://example.com/a")! }
        struct WithDecimal: Codable { var amount = Decimal(string: "12.34")! }
        struct NotANumber: Codable { var value = Double.nan }
        XCTAssertNil(StateJSONEncoder.encode(WithData()))
        XCTAssertNil(StateJSONEncoder.encode(WithURL()))
        XCTAssertNil(StateJSONEncoder.encode(WithDecimal()))
        XCTAssertNil(StateJSONEncoder.encode([Data([9])]))
        XCTAssertNil(StateJSONEncoder.encode(NotANumber()))
        XCTAssertNil(StateJSONEncoder.encode(Super()))
        XCTAssertNil(StateJSONEncoder.encode(OutOfOrder()))
        // The runtime's encoder falls back: what it stores reads back as before.
        let encode = AgentStateCoding<WithData>.encoder()
        XCTAssertEqual(try JSONDecoder().decode(WithData.self, from: Data(try encode(WithData()))).blob, Data([1, 2, 3]))
        let outOfOrder = try AgentStateCoding<OutOfOrder>.encoder()(OutOfOrder())
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(outOfOrder)) as? NSDictionary,
                       try JSONSerialization.jsonObject(with: JSONEncoder().encode(OutOfOrder())) as? NSDictionary)
        XCTAssertThrowsError(try AgentStateCoding<NotANumber>.encoder()(NotANumber()))
    }

    /// Encodes through a super encoder (as a subclass would).
    struct Super: Codable {
        enum Keys: CodingKey { case own }
        init() {}
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .own)
            var parent = container.superEncoder().singleValueContainer()
            try parent.encode(2)
        }
    }

    /// Writes to a nested container after its parent wrote a later field.
    struct OutOfOrder: Codable {
        enum Keys: CodingKey { case inner, after, late }
        init() {}
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var inner = container.nestedContainer(keyedBy: Keys.self, forKey: .inner)
            try container.encode("x", forKey: .after)
            try inner.encode(true, forKey: .late)
        }
    }

    private static func sample(_ random: inout SeededGenerator, depth: Int) -> Sample {
        func text() -> String {
            let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "ключ", "🦀", "\u{2028}"]
            return (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
        }
        let doubles: [Double] = [0, -0.0, 1, -1.5, 0.1, 1e20, 1e-7, 123_456_789.125, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 2.0]
        return Sample(
            int: Int.random(in: Int.min...Int.max, using: &random),
            name: text(),
            ratio: Bool.random(using: &random) ? doubles.randomElement(using: &random)! : Double.random(in: -1e9...1e9, using: &random),
            float: Float.random(in: -1000...1000, using: &random),
            flag: Bool.random(using: &random),
            maybe: Bool.random(using: &random) ? Int.random(in: -5...5, using: &random) : nil,
            list: (0..<Int.random(in: 0...4, using: &random)).map { _ in Int64.random(in: Int64.min...Int64.max, using: &random) },
            nested: depth < 2 ? (0..<Int.random(in: 0...2, using: &random)).map { _ in sample(&random, depth: depth + 1) } : [],
            table: Dictionary((0..<Int.random(in: 0...3, using: &random)).map { _ in (text(), UInt8.random(in: 0...255, using: &random)) }, uniquingKeysWith: { a, _ in a }),
            byNumber: Dictionary((0..<Int.random(in: 0...3, using: &random)).map { _ in (Int.random(in: -9...9, using: &random), text()) }, uniquingKeysWith: { a, _ in a }),
            date: Date(timeIntervalSinceReferenceDate: Double.random(in: -1e9...1e9, using: &random)),
            unit: Empty(),
            pair: [nil, .left(Int.random(in: -3...3, using: &random)), .right(name: text())].randomElement(using: &random)!)
    }

    /// A single value and a container asked of one encoder (JSONEncoder merges or keeps the
    /// container), a key written twice (JSONEncoder keeps the last), an error caught inside an
    /// encode after part of a value was written, and a value that encodes nothing at the top (an
    /// error of JSONEncoder's): each is left to JSONEncoder, never written as invalid or other JSON.
    func testWhatWouldDifferFromJSONEncodersOutputIsLeftToIt() throws {
        let singleThenContainer = Custom { encoder in
            var single = encoder.singleValueContainer()
            try single.encode(Base())
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(2, forKey: .b)
        }
        let containerThenSingle = Custom { encoder in
            var container = encoder.unkeyedContainer()
            try container.encode(1)
            var single = encoder.singleValueContainer()
            try single.encode(5)
        }
        let keyTwice = Custom { encoder in
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .a)
            try container.encode(2, forKey: .a)
        }
        let nestedTwice = Custom { encoder in
            var container = encoder.container(keyedBy: Keys.self)
            var first = container.nestedContainer(keyedBy: Keys.self, forKey: .m)
            try first.encode(1, forKey: .a)
            var second = container.nestedContainer(keyedBy: Keys.self, forKey: .m)
            try second.encode(2, forKey: .b)
        }
        let caughtError = Custom { encoder in
            var container = encoder.container(keyedBy: Keys.self)
            try? container.encode(Double.nan, forKey: .x)
            try? container.encode(URL(string: "https://example.com")!, forKey: .m)
            try container.encode(3, forKey: .a)
        }
        let nothing = Custom { _ in }
        for custom in [singleThenContainer, containerThenSingle, keyTwice, nestedTwice, caughtError, nothing] {
            XCTAssertNil(StateJSONEncoder.encode(custom))
        }
        XCTAssertEqual(StateJSONEncoder.encode([nothing]), Array("[{}]".utf8), "a nested value that encodes nothing is an empty object, as JSONEncoder writes it")
        for custom in [keyTwice, caughtError] {
            XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(try AgentStateCoding<Custom>.encoder()(custom))) as? NSDictionary,
                           try JSONSerialization.jsonObject(with: JSONEncoder().encode(custom)) as? NSDictionary)
        }
        XCTAssertThrowsError(try AgentStateCoding<Custom>.encoder()(nothing))
    }

    func testKeysAreTrackedPerContainerAtAnyCountAndDepth() throws {
        // A key written again after many others (past the few scanned, into a set) is caught.
        let manyThenTwice = Custom { encoder in
            var container = encoder.container(keyedBy: Named.self)
            for index in 0..<20 { try container.encode(index, forKey: Named("k\(index)")) }
            try container.encode(0, forKey: Named("k3"))
        }
        XCTAssertNil(StateJSONEncoder.encode(manyThenTwice))
        // The same key in a container, in the one nested in it, and in a sibling: all allowed.
        let nestedSameKeys = Custom { encoder in
            var container = encoder.container(keyedBy: Named.self)
            try container.encode(1, forKey: Named("a"))
            var inner = container.nestedContainer(keyedBy: Named.self, forKey: Named("b"))
            for index in 0..<12 { try inner.encode(index, forKey: Named("k\(index)")) }
            try inner.encode(2, forKey: Named("a"))
            var sibling = container.nestedContainer(keyedBy: Named.self, forKey: Named("c"))
            try sibling.encode(3, forKey: Named("a"))
            try sibling.encode(4, forKey: Named("k0"))
        }
        let fast = try XCTUnwrap(StateJSONEncoder.encode(nestedSameKeys))
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(fast)) as? NSDictionary,
                       try JSONSerialization.jsonObject(with: JSONEncoder().encode(nestedSameKeys)) as? NSDictionary)
        // Nesting deeper than 64 values (past the bits that note which depths wrote a value).
        var deep = AnyNested.leaf(7)
        for _ in 0..<70 { deep = .list([deep]) }
        XCTAssertEqual(StateJSONEncoder.encode(deep), Array(try JSONEncoder().encode(deep)))
    }

    /// Arrays nested to any depth around one number.
    indirect enum AnyNested: Encodable {
        case leaf(Int)
        case list([AnyNested])

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .leaf(let value):
                var single = encoder.singleValueContainer()
                try single.encode(value)
            case .list(let values):
                var single = encoder.singleValueContainer()
                try single.encode(values)
            }
        }
    }

    /// A key of any name.
    struct Named: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct Base: Codable { var a = 1 }
    enum Keys: CodingKey { case a, b, m, x }

    /// A state that encodes itself as its closure says (only encoded here).
    struct Custom: Codable {
        let body: @Sendable (any Encoder) throws -> Void
        init(_ body: @escaping @Sendable (any Encoder) throws -> Void) { self.body = body }
        init(from decoder: any Decoder) throws { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "encoded only")) }
        func encode(to encoder: any Encoder) throws { try body(encoder) }
    }
}
