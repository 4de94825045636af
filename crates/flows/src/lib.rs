//! No-code flows: a trigger, conditions, mapping and actions over every operation of
//! both apps, with durable, replayable runs.
