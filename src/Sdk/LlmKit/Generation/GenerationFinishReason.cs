namespace LlmKit.Generation;

/// <summary>Why a generation ended.</summary>
public enum GenerationFinishReason
{
    /// <summary>The model produced an end-of-sequence token.</summary>
    EndOfSequence,

    /// <summary>A stop sequence was produced (it is not part of the text).</summary>
    StopSequence,

    /// <summary>The maximum number of new tokens was reached.</summary>
    MaxNewTokens,

    /// <summary>The sequence filled the model's max length.</summary>
    ContextLength,

    /// <summary>
    /// <see cref="GenerationOptions.Constraint"/> allowed no token at a step (no token of the vocabulary continues the
    /// output, or another setting such as <see cref="GenerationOptions.MinNewTokens"/> removed the only ones); the output
    /// ends there, incomplete.
    /// </summary>
    ConstraintUnsatisfiable,
}
