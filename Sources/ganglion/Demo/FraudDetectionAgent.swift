import ClusterCore
import Foundation
import Ganglion

/// The fraud-detection demo (issue 7, flow 2): transactions above a threshold, or of a customer
/// whose risk is open, reach a per-customer agent that keeps recent history and a risk state,
/// raises alerts and records every decision.
struct FraudDetectionAgent: Agent {
    struct State: Codable, Sendable {
        /// Transactions seen.
        var count = 0
        /// The last amounts, newest last (at most 20).
        var recent: [Double] = []
        /// "open" once an alert was raised, until a quiet stretch closes it.
        var risk = "none"
        var quiet = 0
    }

    let name = "fraud-detection"
    let subscription: AgentSubscription
    /// Amounts above this are suspicious on their own.
    let threshold: Double
    /// Where a model would score the transaction; nil: the rules decide.
    let model: (any ModelClient)?

    init(threshold: Double = 1000, model: (any ModelClient)? = nil) throws {
        self.threshold = threshold
        self.model = model
        subscription = try AgentSubscription(topic: "transactions", types: ["transaction.created"],
                                             filter: "amount > \(Int(threshold)) || extensions.customer_risk == \"open\"")
    }

    func handle(_ context: AgentContext<State>) async throws {
        if context.isAsk {
            try answer(context)
            return
        }
        let payload = (try? JSONSerialization.jsonObject(with: context.event.data) as? [String: Any]) ?? [:]
        let amount = payload["amount"] as? Double ?? Double(payload["amount"] as? Int ?? 0)
        var state = context.state ?? State()
        let average = state.recent.isEmpty ? amount : state.recent.reduce(0, +) / Double(state.recent.count)
        state.count += 1
        var suspicious = amount > threshold * 5 || (state.recent.count >= 3 && amount > average * 3)
        if let model {
            // The model's verdict replaces the rules' (its version goes into the decision record).
            let answer = try await model.complete(prompt: "Is this transaction fraudulent? Answer yes or no.",
                                                  context: ["amount": String(amount), "average": String(average), "risk": state.risk])
            suspicious = answer.lowercased().hasPrefix("yes")
        }
        state.recent = Array((state.recent + [amount]).suffix(20))
        if suspicious {
            state.risk = "open"
            state.quiet = 0
            let alert = ["customer": context.key, "amount": amount, "average": average, "transaction": context.event.id] as [String: Any]
            context.emit(topic: "alerts", type: "fraud.alert", data: try JSONSerialization.data(withJSONObject: alert, options: [.sortedKeys]))
        } else if state.risk == "open" {
            state.quiet += 1
            if state.quiet >= 5 { state.risk = "none" }
        }
        context.decide(suspicious ? "alert" : "pass",
                       inputs: ["amount": String(amount), "average": String(average), "count": String(state.count), "risk": state.risk],
                       policyVersion: model.map { "model-\($0.modelVersion)" } ?? "threshold-\(Int(threshold))")
        context.state = state
        context.outcome = Data((suspicious ? "alert" : "pass").utf8)
    }

    /// Asks (`ganglion ask fraud-detection c-7`): the customer's profile; with type `risk.close`,
    /// an analyst closes the customer's open risk first.
    private func answer(_ context: AgentContext<State>) throws {
        var state = context.state ?? State()
        if context.event.type == "risk.close" && state.risk == "open" {
            state.risk = "none"
            state.quiet = 0
            context.decide("risk closed", inputs: ["by": "ask"], policyVersion: "analyst")
            context.state = state
        }
        let average = state.recent.isEmpty ? 0 : state.recent.reduce(0, +) / Double(state.recent.count)
        let profile: [String: Any] = ["customer": context.key, "transactions": state.count, "risk": state.risk, "average_amount": average]
        context.reply(try JSONSerialization.data(withJSONObject: profile, options: [.sortedKeys]))
    }
}
