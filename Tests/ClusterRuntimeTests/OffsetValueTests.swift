@testable import ClusterRuntime
import XCTest

/// The offsets log's values: with the topic id a commit was made on, and as written before ids
/// were recorded (the offset, then the metadata), which still read — and whose offset a node from
/// before ids still reads from a value with one.
final class OffsetValueTests: XCTestCase {
    func testAValueWithItsTopicIDRoundTrips() {
        let value = OffsetValue(offset: 1_234_567, metadata: "checkpoint ✓", topicID: "6f1c2a9e-0b7d-4c55-9d1e-2f3a4b5c6d7e")
        XCTAssertEqual(OffsetValue(decoding: value.encoded), value)
        let bare = OffsetValue(offset: 7, metadata: "", topicID: nil)
        XCTAssertEqual(OffsetValue(decoding: bare.encoded), bare)
        let emptyMetadata = OffsetValue(offset: 0, metadata: "", topicID: "abc")
        XCTAssertEqual(OffsetValue(decoding: emptyMetadata.encoded), emptyMetadata)
    }

    func testAValueWrittenBeforeTopicIDsStillReads() {
        let old = withUnsafeBytes(of: Int64(42).bigEndian) { Array($0) } + Array("meta".utf8)
        XCTAssertEqual(OffsetValue(decoding: old), OffsetValue(offset: 42, metadata: "meta", topicID: nil))
    }

    /// What a node from before topic ids did with a value: the offset from its first 8 bytes.
    func testTheOffsetStaysWhereEarlierNodesReadIt() {
        let encoded = OffsetValue(offset: 987_654_321, metadata: "m", topicID: "6f1c2a9e").encoded
        XCTAssertEqual(encoded.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }, 987_654_321)
    }

    func testTooShortValuesAreNotValues() {
        XCTAssertNil(OffsetValue(decoding: [1, 2, 3]))
        XCTAssertNil(OffsetValue(decoding: []))
    }
}
