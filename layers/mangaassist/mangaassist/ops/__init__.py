"""Operations catalog: the availability SLO and every alarm that watches MangaAssist, with its runbook."""
