import ClusterCore
import Foundation
import Ganglion

/// The task-queue demo (issue 7, flow 3): tasks on `tasks` go to a worker agent whose shards
/// hold at most 512 tasks (the fetch stops beyond: backpressure); a worker attempt that fails or
/// hangs is cancelled at its deadline and retried with backoff; a separate verifier group checks
/// each completed task and re-queues a sloppy one (at most twice) or escalates it.
struct TaskWorkerAgent: Agent {
    struct State: Codable, Sendable { var completed = 0 }

    let name = "task-worker"
    let subscription = try! AgentSubscription(topic: "tasks", types: ["task.submitted"])
    let retryPolicy = RetryPolicy(maxAttempts: 4, initialBackoffMilliseconds: 50, maxBackoffMilliseconds: 400, attemptDeadlineMilliseconds: 500)

    func handle(_ context: AgentContext<State>) async throws {
        if context.isAsk {
            // `ganglion ask task-worker task-7`: how often the task was completed.
            context.reply(Data("{\"completed\":\(context.state?.completed ?? 0)}".utf8))
            return
        }
        let task = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: Any]) ?? [:]
        let kind = task["kind"] as? String ?? "plain"
        // Stand-ins for real work: a hung first attempt (cancelled at the deadline), a failing one.
        if kind == "hangs", context.attempt == 1 { try await Task.sleep(for: .seconds(5)) }
        if kind == "flaky", context.attempt == 1 { throw DemoTaskError.flaky }
        try await Task.sleep(for: .milliseconds(20))
        context.state = State(completed: (context.state?.completed ?? 0) + 1)
        var result = task
        result["attempts"] = context.attempt
        // A sloppy task is done well once re-queued; a hopeless one never (it is escalated).
        result["quality"] = (kind == "sloppy" && (task["requeued"] as? Int ?? 0) < 1) || kind == "hopeless" ? "sloppy" : "good"
        context.emit(topic: "tasks.completed", type: "task.completed", data: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]))
    }
}

enum DemoTaskError: Error, CustomStringConvertible {
    case flaky
    var description: String { "the worker crashed mid-task" }
}

/// Verifies completed tasks: good ones are verified, sloppy ones re-queued (twice at most), then escalated.
struct TaskVerifierAgent: Agent {
    struct State: Codable, Sendable { var verified = 0 }

    let name = "task-verifier"
    let subscription = try! AgentSubscription(topic: "tasks.completed", types: ["task.completed"])

    func handle(_ context: AgentContext<State>) async throws {
        var task = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: Any]) ?? [:]
        let requeued = task["requeued"] as? Int ?? 0
        if task["quality"] as? String == "good" {
            context.state = State(verified: (context.state?.verified ?? 0) + 1)
            context.emit(topic: "tasks.verified", type: "task.verified", data: context.event.data)
        } else if requeued < 2 {
            task["requeued"] = requeued + 1
            task.removeValue(forKey: "quality")
            context.emit(topic: "tasks", type: "task.submitted", data: try JSONSerialization.data(withJSONObject: task, options: [.sortedKeys]))
            context.emit(topic: "tasks.verified", type: "task.requeued", data: context.event.data)
        } else {
            context.emit(topic: "tasks.verified", type: "task.escalated", data: context.event.data)
        }
    }
}
