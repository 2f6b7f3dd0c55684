// The agent API sits above the client library: `import Ganglion` brings both.
@_exported import GanglionClients
