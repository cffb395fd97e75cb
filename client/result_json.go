package client

import (
	"encoding/json"

	"asynctrace/scenario"
)

// resultJSON is Result as -json writes it: the durations in milliseconds.
// One type both ways, so that what MarshalJSON writes UnmarshalJSON reads.
type resultJSON struct {
	plain
	UnitMS     float64 `json:"unit_ms"`
	MakespanMS float64 `json:"makespan_ms"`
	ExpectedMS float64 `json:"expected_ms"`
	DiffMS     float64 `json:"diff_ms"` // written only: makespan - expected - network
	ReadyMS    float64 `json:"ready_ms"`
	NetworkMS  float64 `json:"network_ms"`
	SpawnMS    float64 `json:"spawn_ms"`
}

type plain Result // Result without its JSON methods

// MarshalJSON adds the durations, in milliseconds, to the JSON fields.
func (r Result) MarshalJSON() ([]byte, error) {
	ms := scenario.MS
	return json.Marshal(resultJSON{plain(r), ms(r.Unit), ms(r.Makespan), ms(r.Expected), ms(r.Makespan - r.Expected - r.Network), ms(r.Ready), ms(r.Network), ms(r.Spawn)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var v resultJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Result(v.plain)
	from := scenario.FromMS
	r.Unit, r.Makespan, r.Expected, r.Ready, r.Network, r.Spawn = from(v.UnitMS), from(v.MakespanMS), from(v.ExpectedMS), from(v.ReadyMS), from(v.NetworkMS), from(v.SpawnMS)
	return nil
}
