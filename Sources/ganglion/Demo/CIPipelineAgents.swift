import Foundation
import Ganglion

/// The CI pipeline demo (issue 7, flow 1): a push to `ci.pushes` runs three check agents in
/// parallel (tests, security scan, lint); each reports to `ci.checks` under the commit SHA; the
/// aggregator joins the three by correlation id and emits the commit's status to `ci.statuses`.
/// A push is the demo's own `push` event (`{"sha", "message"}`) or a GitHub push webhook
/// (`github.push`, from `POST /v1/webhooks/NAME`: the commit is `after`, its message `head_commit.message`).
struct CICheckAgent: Agent {
    struct State: Codable, Sendable { var runs = 0 }

    /// `tests`, `security` or `lint`.
    let check: String
    var name: String { "ci-\(check)" }
    let subscription = try! AgentSubscription(topic: "ci.pushes", types: ["push", "github.push"])

    func handle(_ context: AgentContext<State>) async throws {
        let (sha, message) = Self.commit(in: context.event.data, key: context.key)
        // Stand-ins for the real work: a little time, and a verdict from the commit message. A
        // "slow runner" push keeps the tests past the aggregator's join timeout.
        let slow = check == "tests" && message.contains("slow runner")
        try await Task.sleep(for: .milliseconds(slow ? CIAggregatorAgent.joinTimeoutMilliseconds + 2_000 : check == "tests" ? 300 : check == "security" ? 200 : 100))
        let failed = (check == "lint" && message.contains("WIP")) || (check == "tests" && message.contains("break"))
            || (check == "security" && message.contains("secret"))
        context.state = State(runs: (context.state?.runs ?? 0) + 1)
        let report = ["check": check, "sha": sha, "status": failed ? "failure" : "success"]
        context.emit(topic: "ci.checks", type: "ci.check.completed", key: sha, data: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]))
    }

    /// The pushed commit's SHA and message: the demo's `{"sha", "message"}`, or GitHub's push
    /// payload (`after` / `head_commit.id`, `head_commit.message`); the event's key otherwise.
    static func commit(in data: Data, key: String) -> (sha: String, message: String) {
        let push = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let head = push["head_commit"] as? [String: Any]
        let sha = push["sha"] as? String ?? push["after"] as? String ?? head?["id"] as? String ?? key
        return (sha, push["message"] as? String ?? head?["message"] as? String ?? "")
    }
}

/// Joins a commit's three check reports and emits its status: `success`, `failure`, or
/// `timed_out` (naming the missing checks) when a check has not reported within the join timeout.
struct CIAggregatorAgent: Agent {
    struct State: Codable, Sendable { var join = Join(expecting: ["tests", "security", "lint"]) }

    /// How long a commit waits for all three checks.
    static let joinTimeoutMilliseconds = 3_000

    let name = "ci-aggregator"
    let subscription = try! AgentSubscription(topic: "ci.checks", types: ["ci.check.completed"])

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        if context.timer == Join.timerName {
            guard let missing = state.join.expire() else { return }
            context.state = state
            try emitStatus(context, status: "timed_out", join: state.join, missing: missing)
            return
        }
        let report = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: String]) ?? [:]
        let complete = state.join.record(report["check"] ?? "?", Data((report["status"] ?? "?").utf8), in: context,
                                         timeout: .milliseconds(Self.joinTimeoutMilliseconds))
        context.state = state
        guard complete else { return }
        let checks = state.join.received.mapValues { String(decoding: $0, as: UTF8.self) }
        try emitStatus(context, status: checks.values.allSatisfy { $0 == "success" } ? "success" : "failure", join: state.join, missing: [])
    }

    private func emitStatus(_ context: AgentContext<State>, status: String, join: Join, missing: Set<String>) throws {
        var body: [String: Any] = ["sha": context.key, "status": status]
        body["checks"] = join.received.mapValues { String(decoding: $0, as: UTF8.self) }
        if !missing.isEmpty { body["missing"] = missing.sorted() }
        context.emit(topic: "ci.statuses", type: "ci.status", data: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
    }
}
