using System.Runtime.CompilerServices;
using LlmKit.Generation.Constraints;

namespace LlmKit.Models;

public sealed partial class OnnxGenAIModel
{
    // One automaton per constraint instance on this model: its states and masks are reused by every generation.
    private readonly ConditionalWeakTable<OutputConstraint, ConstraintAutomaton> _automata = [];

    /// <summary>The shared automaton of <paramref name="constraint"/> over this model's tokens (created on first use).</summary>
    internal ConstraintAutomaton GetConstraintAutomaton(OutputConstraint constraint) =>
        _automata.GetValue(constraint, c => new ConstraintAutomaton(c.Grammar, Tokenizer.TokenTrie, Config.Model.EosTokenIds, VocabularySize));
}
