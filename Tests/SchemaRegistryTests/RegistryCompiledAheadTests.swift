import Foundation
import SchemaRegistry
import XCTest

/// Validation on produce runs on the node's socket thread and compiles a schema it has not
/// compiled yet: registration and a restart leave every stored schema compiled ahead of it.
final class RegistryCompiledAheadTests: XCTestCase {
    private let text = "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n  string id = 1;\n}\n"

    func testARegisteredSchemaIsCompiledWithoutAnotherCompile() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        let id = try registry.register(subject: "orders-value", SchemaSubmission(schema: text)).id
        XCTAssertNotNil(registry.compilation.cached(id: id), "validation would compile schema \(id) on the socket thread")
    }

    func testARestartedRegistryCompilesItsSchemasInTheBackground() throws {
        let store = InMemoryRegistryStore()
        let id = try SchemaRegistryService(store: store).register(subject: "orders-value", SchemaSubmission(schema: text)).id
        let restarted = SchemaRegistryService(store: store)
        let deadline = Date(timeIntervalSinceNow: 10)
        while restarted.compilation.cached(id: id) == nil, Date() < deadline { usleep(10_000) }
        XCTAssertNotNil(restarted.compilation.cached(id: id), "schema \(id) was not compiled ahead of validation")
    }
}
