import ClusterCore
import XCTest

/// Filters over envelope attributes and payload fields: the issue's example, every operator,
/// kinds that do not compare, and syntax errors with their column.
final class EventFilterTests: XCTestCase {
    private let event: [String: FilterValue] = [
        "type": .string("transaction.created"), "amount": .number(1500), "customer.risk": .string("open"),
        "flagged": .bool(false), "currency": .string("EUR"),
    ]

    private func matches(_ text: String) throws -> Bool {
        try EventFilter(text).matches { event[$0] }
    }

    func testTheIssuesExampleAndEveryOperator() throws {
        XCTAssertTrue(try matches("type == \"transaction.created\" && amount > 1000"))
        XCTAssertFalse(try matches("type == \"transaction.created\" && amount > 2000"))
        XCTAssertTrue(try matches("amount >= 1500 && amount <= 1500 && amount != 1 && amount < 1e4"))
        XCTAssertTrue(try matches("customer.risk == 'open' || flagged"))
        XCTAssertTrue(try matches("!flagged && !(amount < 100)"))
        XCTAssertTrue(try matches("currency in [\"EUR\", \"USD\"]"))
        XCTAssertFalse(try matches("currency in []"))
        XCTAssertTrue(try matches("missing == null && !missing"))
        XCTAssertFalse(try matches("amount > \"1000\""), "a number and a string do not compare")
        XCTAssertTrue(try matches("amount > -3.5"))
        XCTAssertEqual(try EventFilter("type == \"t\" && customer.risk != null").paths, ["type", "customer.risk"])
    }

    func testSyntaxErrorsNameTheColumn() {
        for (text, column) in [("", 1), ("amount >", 9), ("amount > 1 &&", 14), ("type == \"open", 9), ("(amount > 1", 12),
                               ("amount > 1 amount", 12), ("currency in EUR", 13), ("amount = 5", 8)] {
            XCTAssertThrowsError(try EventFilter(text), text) { error in
                XCTAssertEqual((error as? FilterSyntaxError)?.column, column, "\(text): \(error)")
            }
        }
    }
}
