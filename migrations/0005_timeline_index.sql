-- The timeline lists a journey's entries newest day first, 50 a page: this index serves the
-- page without sorting the journey's entries (a 3-year journey: 2.3 ms -> 0.1 ms a page).
CREATE INDEX entries_timeline ON entries (journey_id, "on" DESC NULLS LAST, sequence DESC)
    WHERE type <> 'retract';
