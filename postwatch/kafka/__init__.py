"""Every use of the Kafka client library (aiokafka), in one place.

- `clients`: the producers, consumers and admin clients postwatch makes, all with the
  connection and security options of the settings, and the library's names the rest of
  postwatch uses (records, partitions, errors, the rebalance listener);
- `topics`: every topic's name, their creation, and reading a topic whole (`scan`);
- `deadletter`: the record that says why a consumed record could not be handled.

No other package of postwatch imports aiokafka (an import-linter contract checks it).
"""
