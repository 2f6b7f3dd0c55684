import Foundation
@testable import Ganglion
import GanglionWire
import SwiftProtobuf
import XCTest

/// What an emitted event carries over from the event that caused it.
final class AgentEmitTests: XCTestCase {
    private struct Counter: Codable, Sendable { var count = 0 }

    private func emitted(from input: EventEnvelope) throws -> EventEnvelope {
        let context = AgentContext<Counter>(agentName: "counter", event: input, key: "k", partition: 0, offset: 0, attempt: 1, state: nil)
        context.emit(topic: "out", type: "counted", data: Data("1".utf8))
        return try XCTUnwrap(context.emitted.first).event
    }

    func testAnInputWithoutATimeGivesAnEmittedEventWithoutOne() throws {
        var input = EventEnvelope()
        input.id = "e-1"
        let out = try emitted(from: input)
        XCTAssertFalse(out.hasTime, "emitted with time \(out.time) (1970) for an input that had none")
    }

    func testAnInputsTimeCarriesOver() throws {
        var input = EventEnvelope()
        input.id = "e-2"
        input.time = Google_Protobuf_Timestamp(seconds: 1_796_000_000, nanos: 5_000)
        let out = try emitted(from: input)
        XCTAssertTrue(out.hasTime)
        XCTAssertEqual(out.time, input.time)
    }
}
