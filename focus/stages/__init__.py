"""The stages of the paper's Fig. 2, each a config group: target extraction (Sec. 3.2, `targets`), the object
relevance map (Sec. 3.2, `relevance`), region proposal (Sec. 3.3, `proposer`), existence ranking (Sec. 3.3,
`ranker`) and the final answer on the chosen crop(s) (Sec. 3.4, `inference`). Stages never import methods."""
