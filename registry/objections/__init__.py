"""Garantía de audiencia, the aspirant's side (TEPJF SUP-JDC-186/2018): every support that does not count, with
its reason and evidence (`rejected`), and the objections the aspirant files against them (`filing`). The reviewer
answers at the mesa de control (registry.review)."""
