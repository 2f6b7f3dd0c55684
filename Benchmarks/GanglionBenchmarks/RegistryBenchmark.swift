import Foundation
import SchemaRegistry

/// The schema registry's figures, in-process over its metadata-log state (here in memory):
/// registration rate, lookup by id (goal: p99 ≤ 100 µs, served from memory) and a compatibility
/// check against 10 versions transitively.
struct RegistryBenchmark {
    let rounds: Int

    func run() throws {
        print("== Schema registry (in-process) ==")
        try registrationFigures()
        try lookupFigures()
        try compatibilityFigures()
        print("")
    }

    private func order(_ extra: Int, subject: Int = 0) -> SchemaSubmission {
        var text = "syntax = \"proto3\";\npackage bench.s\(subject);\nimport \"google/protobuf/timestamp.proto\";\n"
        text += "message Order {\n  string id = 1;\n  int64 amount = 2;\n  google.protobuf.Timestamp at = 3;\n  repeated Line lines = 4;\n"
        for field in 0..<extra { text += "  string note_\(field) = \(10 + field);\n" }
        text += "  message Line { string sku = 1; int32 quantity = 2; }\n}\n"
        return SchemaSubmission(schema: text)
    }

    private func registrationFigures() throws {
        var subjectsRate: [Double] = []
        var versionsRate: [Double] = []
        for _ in 0..<rounds {
            let registry = SchemaRegistryService(store: InMemoryRegistryStore())
            var start = Date()
            for index in 0..<300 { try registry.register(subject: "subject-\(index)", order(0, subject: index)) }
            subjectsRate.append(300 / Date().timeIntervalSince(start))
            start = Date()
            for version in 1...100 { try registry.register(subject: "subject-0", order(version)) }
            versionsRate.append(100 / Date().timeIntervalSince(start))
        }
        print("  register: \(Int(Figures.median(subjectsRate))) new subjects/s; \(Int(Figures.median(versionsRate))) new versions/s (each checked BACKWARD)")
    }

    private func lookupFigures() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        for index in 0..<1000 { try registry.register(subject: "subject-\(index)", order(index % 5, subject: index)) }
        let rest = RegistryREST(service: registry)
        var direct: [UInt64] = []
        var overREST: [UInt64] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<(rounds * 20_000) {
            let id = Int32.random(in: 1...1000, using: &generator)
            var start = DispatchTime.now().uptimeNanoseconds
            _ = try registry.schema(id: id)
            direct.append(DispatchTime.now().uptimeNanoseconds - start)
            start = DispatchTime.now().uptimeNanoseconds
            let answer = rest.handle(RegistryHTTPRequest(method: "GET", segments: ["schemas", "ids", String(id)]))
            overREST.append(DispatchTime.now().uptimeNanoseconds - start)
            guard answer.status == 200 else { throw RegistryError(50001, "lookup of id \(id) answered \(answer.status)") }
        }
        print("  lookup by id (1000 schemas): p50 \(Figures.fixed(Figures.percentileMicros(direct, 50), 2)) µs, p99 \(Figures.fixed(Figures.percentileMicros(direct, 99), 2)) µs;"
              + " with the REST handler's JSON: p50 \(Figures.fixed(Figures.percentileMicros(overREST, 50), 1)) µs, p99 \(Figures.fixed(Figures.percentileMicros(overREST, 99), 1)) µs")
    }

    private func compatibilityFigures() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        _ = try registry.setLevel("FULL_TRANSITIVE", subject: "orders-value")
        for version in 0..<10 { try registry.register(subject: "orders-value", order(version)) }
        let candidate = order(10)
        var samples: [UInt64] = []
        for _ in 0..<(rounds * 40) {
            let start = DispatchTime.now().uptimeNanoseconds
            let (compatible, _) = try registry.checkCompatibility(subject: "orders-value", candidate, against: nil)
            samples.append(DispatchTime.now().uptimeNanoseconds - start)
            guard compatible else { throw RegistryError(409, "the benchmark's candidate should be compatible") }
        }
        print("  compatibility check vs 10 versions, FULL_TRANSITIVE (compile included): p50 \(Figures.fixed(Figures.percentileMicros(samples, 50) / 1000, 2)) ms, p99 \(Figures.fixed(Figures.percentileMicros(samples, 99) / 1000, 2)) ms")
    }
}
