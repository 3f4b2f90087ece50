// Package correlate is `apitap correlate`: stage two's cross-flow
// detectors run over the observations (analyzer/observation records) that
// many sensors publish to Kafka, so that abuse spread over the nodes of a
// cluster (a credential-stuffing campaign load-balanced over every
// replica, objects walked across pods) is seen as one.
//
// It is a goka processor group (github.com/lovoo/goka) over the topic
// apitap.observations, keyed by actor: every observation of one actor
// meets in one partition, and each partition is processed by one member
// of the group. The group table (a compacted changelog topic,
// <group>-table) holds, per actor, the order key and input offset of the
// latest observation of each sensor: a producer's duplicate (at or before
// its sensor's mark, at a later offset) is dropped; the table is written
// in batches (see marks and process). When a partition moves to another member (a
// member died or joined), the new owner restores the table from the
// changelog and reads the partition's recent observations again from the
// input topic, up to the group's committed offset, into fresh detectors,
// so that the state of open windows is rebuilt and nothing they would
// have detected is lost. Delivery is at-least-once: what was replayed may
// be detected twice, with the same id (detection ids are deterministic);
// one process writes an id once, and consumers de-duplicate by id across
// restarts.
//
// Windows are in capture time. Each partition holds its observations in
// a reorder buffer and releases them in capture order up to its
// watermark: the earliest latest-capture-time of the sensors that
// published to it recently (a sensor silent for Idle of wall time no
// longer holds it back; a partition silent for Idle releases everything).
// For Idle after its first observation a partition releases nothing, so
// that the sensors publishing to it make themselves known; a sensor that
// joins later, or lags by more than Idle, has its older observations
// processed on arrival and counted (Stats.Late).
//
// The detectors plug in through Detectors (the behaviour analyzer
// implements it over its own detector code); detections are marked
// central and go to Config.Out.
//
// Concurrency: goka calls Process on one goroutine per partition; a
// partition's engine has its own lock (the idle ticker releases on
// another goroutine); Out is called with the output lock held, from any
// partition's goroutine.
package correlate
