module gatehouse.test/differential-upstream

go 1.19
