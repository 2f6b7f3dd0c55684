import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Reminds about unpaid orders: a placed order schedules a reminder, payment cancels it.
private struct ReminderAgent: Agent {
    struct State: Codable, Sendable {
        var placed = false
        var reminded = 0
    }

    let name = "reminders"
    let subscription = try! AgentSubscription(topic: "orders")
    let delay: Duration

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        if context.timer == "remind" {
            state.reminded += 1
            context.emit(topic: "reminders", type: "order.reminder",
                         data: Data("\(context.key) reminded \(state.reminded) [\(String(decoding: context.event.data, as: UTF8.self))]".utf8))
        } else if context.event.type == "order.placed" {
            state.placed = true
            context.schedule("remind", after: delay, data: Data("unpaid".utf8))
        } else if context.event.type == "order.paid" {
            context.cancelTimer("remind")
        }
        context.state = state
    }
}

/// Timers per key (DESIGN §4): durable with the event that scheduled them, fired once in order
/// with the key's events, cancelled by a later event, and carried over when a host is replaced.
final class AgentTimerTests: XCTestCase {
    private var directory = ""

    override func setUp() { directory = NSTemporaryDirectory() + "ganglion-timers-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func order(_ id: String, _ type: String) -> EventEnvelope {
        var event = EventEnvelope()
        event.id = "\(id)-\(type)"
        event.type = type
        event.key = Data(id.utf8)
        return event
    }

    func testTimersFireOnceSurviveAHostReplacementAndCanBeCancelled() async throws {
        let node = try startTestNode(directory) { $0.groupSessionTimeout = 1000 }
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("orders", partitions: 2)
        try await client.createTopic("reminders", partitions: 1)
        _ = try await client.publish(topic: "orders", events: [order("o1", "order.placed"), order("o2", "order.placed"),
                                                               order("o2", "order.paid"), order("o3", "order.placed")])
        let scheduled = ContinuousClock.now
        let agent = ReminderAgent(delay: .milliseconds(1500))
        let first = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(agent) }
        for _ in 0..<250 {
            let lag = try await client.describeGroup("reminders").lag
            if lag.count == 2, lag.allSatisfy({ $0.lag == 0 }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        first.cancel()
        _ = await first.result
        let early = try await storedEvents(client, "reminders")
        XCTAssertTrue(early.isEmpty || ContinuousClock.now - scheduled >= .milliseconds(1500), "no reminder before its time: \(early.count)")

        // A new host: the timers come back from the changelog and fire there.
        let second = Task { try await AgentHost(client: try GanglionClient(endpoint: node.endpoints.api)).run(agent) }
        defer { second.cancel() }
        var reminders: [EventEnvelope] = []
        for _ in 0..<300 {
            reminders = try await storedEvents(client, "reminders")
            if reminders.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - scheduled, .milliseconds(1500), "the timers waited their delay")
        try await Task.sleep(for: .milliseconds(400))
        reminders = try await storedEvents(client, "reminders")
        XCTAssertEqual(reminders.map { String(decoding: $0.data, as: UTF8.self) }.sorted(),
                       ["o1 reminded 1 [unpaid]", "o3 reminded 1 [unpaid]"], "each unpaid order reminded once; the paid one not at all")
        XCTAssertEqual(Set(reminders.map(\.id)).count, 2)
    }
}
