import Foundation
import Ganglion

/// The saga demo (issue 7, flow 4): a document goes through extract → validate → route →
/// notify. The orchestrator keeps a ``Saga`` per document and sends each step as a command to
/// `docs.steps`; the worker runs it and reports to `docs.events`; when a step fails, the
/// orchestrator sends compensations for the steps already done, newest first. Outcomes go to
/// `docs.outcomes`.
struct DocumentSagaAgent: Agent {
    struct State: Codable, Sendable { var saga = Saga(steps: ["extract", "validate", "route", "notify"]) }

    let name = "doc-saga"
    let subscription = try! AgentSubscription(topic: "docs.events", types: ["document.received", "doc.step.completed", "doc.step.failed"])

    func handle(_ context: AgentContext<State>) async throws {
        var state = context.state ?? State()
        let body = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: String]) ?? [:]
        let document = context.key
        switch context.event.type {
        case "document.received":
            guard state.saga.completed.isEmpty, state.saga.failedStep == nil else { break }
            command(context, "doc.step", step: state.saga.current!, document: document, name: body["name"] ?? document)
        case "doc.step.completed":
            let step = body["step"] ?? ""
            if let next = state.saga.complete(step) {
                command(context, "doc.step", step: next, document: document, name: body["name"] ?? document)
            } else if state.saga.isFinished {
                outcome(context, "document.completed", document: document, detail: "all steps done")
            }
        case "doc.step.failed":
            let step = body["step"] ?? ""
            let compensations = state.saga.fail(step)
            outcome(context, "document.failed", document: document,
                    detail: "\(step) failed (\(body["reason"] ?? "?")); compensating \(compensations.isEmpty ? "nothing" : compensations.joined(separator: ", "))")
            for done in compensations { command(context, "doc.compensate", step: done, document: document, name: body["name"] ?? document) }
        default:
            break
        }
        context.state = state
    }

    private func command(_ context: AgentContext<State>, _ type: String, step: String, document: String, name: String) {
        let data = (try? JSONSerialization.data(withJSONObject: ["step": step, "document": document, "name": name], options: [.sortedKeys])) ?? Data()
        context.emit(topic: "docs.steps", type: type, key: document, data: data)
    }

    private func outcome(_ context: AgentContext<State>, _ type: String, document: String, detail: String) {
        let data = (try? JSONSerialization.data(withJSONObject: ["document": document, "detail": detail], options: [.sortedKeys])) ?? Data()
        context.emit(topic: "docs.outcomes", type: type, key: document, data: data)
    }
}

/// Runs document steps and compensations (stand-ins: validation fails for names with
/// "corrupt", routing for names with "unroutable").
struct DocumentWorkerAgent: Agent {
    struct State: Codable, Sendable { var done: [String] = [] }

    let name = "doc-worker"
    let subscription = try! AgentSubscription(topic: "docs.steps", types: ["doc.step", "doc.compensate"])

    func handle(_ context: AgentContext<State>) async throws {
        let body = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: String]) ?? [:]
        let step = body["step"] ?? "?", name = body["name"] ?? ""
        var state = context.state ?? State()
        if context.event.type == "doc.compensate" {
            state.done.removeAll { $0 == step }
            let data = (try? JSONSerialization.data(withJSONObject: ["document": context.key, "detail": "undid \(step)"], options: [.sortedKeys])) ?? Data()
            context.emit(topic: "docs.outcomes", type: "doc.compensated", data: data)
        } else {
            try await Task.sleep(for: .milliseconds(50))
            let reason: String? = step == "validate" && name.contains("corrupt") ? "checksum mismatch"
                : step == "route" && name.contains("unroutable") ? "no destination" : nil
            if reason == nil { state.done.append(step) }
            var report = ["step": step, "name": name]
            if let reason { report["reason"] = reason }
            let data = (try? JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])) ?? Data()
            context.emit(topic: "docs.events", type: reason == nil ? "doc.step.completed" : "doc.step.failed", data: data)
        }
        context.state = state
    }
}
