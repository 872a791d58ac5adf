import XCTest
@testable import TernServer
import TernCore
