from __future__ import annotations

from opro_cli.core.metaprompt import (
    Mistake,
    Scored,
    bucketize,
    build_meta_prompt,
    select_history,
)
from opro_cli.core.placement import scorer_messages
from opro_cli.data import Example


def test_bucketize_shows_integers_0_to_100() -> None:
    assert bucketize(0.0) == 0
    assert bucketize(0.614) == 61
    assert bucketize(1.0) == 100
    assert bucketize(0.614, buckets=10) == 60
    assert bucketize(1.7) == 100


def test_history_keeps_the_best_in_ascending_order() -> None:
    history = [Scored("a", 0.5), Scored("b", 0.9), Scored("c", 0.1), Scored("d", 0.7)]
    assert [s.text for s in select_history(history, 3)] == ["a", "d", "b"]
    ties = [Scored("first", 0.5), Scored("second", 0.5)]
    assert [s.text for s in select_history(ties, 2)] == ["first", "second"]


def test_meta_prompt_layout() -> None:
    text = build_meta_prompt(
        task="Classify reviews.",
        history=[Scored("Be brief.", 0.42), Scored("Answer.", 0.8)],
        exemplars=[Example("e1", "Great kettle", "positive")],
        position="q_begin",
        history_size=20,
    )
    assert text.startswith("Your task is to write an instruction <INS> for this task: Classify")
    assert "text:\nBe brief.\nscore:\n42\n\ntext:\nAnswer.\nscore:\n80" in text
    # the exemplar shows the scorer's very messages, the instruction's place marked <INS>
    assert "input:\nUser: <INS>\nGreat kettle\nAssistant:\noutput:\npositive" in text
    assert text.rstrip().endswith("starting with <INS> and ending with </INS>.")


def test_exemplars_follow_the_instruction_position() -> None:
    example = [Example("e1", "2+2", "4")]

    def build(position: str) -> str:
        return build_meta_prompt(
            task="t", history=[], exemplars=example, position=position, history_size=5
        )

    assert "User: 2+2\n<INS>\nAssistant:" in build("q_end")
    assert "User: Q: 2+2\nA: <INS>\nAssistant:" in build("a_begin")
    assert "System: <INS>\nUser: 2+2\nAssistant:" in build("system")
    prefilled = build_meta_prompt(
        task="t", history=[], exemplars=example, position="a_begin", history_size=5, prefill=True
    )
    assert "input:\nUser: 2+2\nAssistant: <INS>\noutput:\n4" in prefilled


def test_mistakes_are_shown_with_the_expected_and_the_actual_answer() -> None:
    text = build_meta_prompt(
        task="t",
        history=[],
        exemplars=[],
        position="q_begin",
        history_size=5,
        mistakes=[Mistake("2+2", "4", "5")],
    )
    assert "problems the best instruction so far gets wrong" in text
    assert "input:\n2+2\nexpected:\n4\nanswer:\n5" in text


def test_scorer_messages_by_position() -> None:
    assert scorer_messages("Be exact.", "2+2", "system") == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "2+2"},
    ]
    assert scorer_messages("Be exact.", "2+2", "q_begin") == [
        {"role": "user", "content": "Be exact.\n2+2"}
    ]
    assert scorer_messages("Be exact.", "2+2", "q_end")[0]["content"] == "2+2\nBe exact."
    assert scorer_messages("Be exact.", "2+2", "a_begin")[0]["content"] == "Q: 2+2\nA: Be exact."
    assert scorer_messages("Be exact.", "2+2", "a_begin", prefill=True) == [
        {"role": "user", "content": "2+2"},
        {"role": "assistant", "content": "Be exact."},
    ]
    assert scorer_messages("", "2+2", "system") == [{"role": "user", "content": "2+2"}]
    assert scorer_messages("  ", "2+2", "q_end") == [{"role": "user", "content": "2+2"}]
