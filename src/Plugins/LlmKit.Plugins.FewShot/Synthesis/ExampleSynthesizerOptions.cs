using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.FewShot.Synthesis;

/// <summary>Settings of <see cref="ExampleSynthesizer"/>.</summary>
public sealed class ExampleSynthesizerOptions
{
    /// <summary>
    /// A candidate is kept only if its input's ROUGE-L F1 against every kept input (seeds included) is below this.
    /// In (0, 1]; default 0.7 as in Self-Instruct.
    /// </summary>
    public double MaxRougeL { get; set; } = 0.7;

    /// <summary>Examples shown in each generation prompt; 1 to 16. Default 3.</summary>
    public int ExamplesPerPrompt { get; set; } = 3;

    /// <summary>Generation attempts allowed per requested example before giving up; 1 to 100. Default 5.</summary>
    public int MaxAttemptsPerExample { get; set; } = 5;

    /// <summary>Seed for choosing which examples each prompt shows.</summary>
    public int Seed { get; set; }

    /// <summary>Optional description of the task, put at the top of each generation prompt.</summary>
    public string? TaskDescription { get; set; }

    /// <summary>Options passed to the chat client (e.g. a temperature above 0 so candidates differ); null for its defaults.</summary>
    public ChatOptions? ChatOptions { get; set; }

    internal void Validate()
    {
        if (!(MaxRougeL is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRougeL), MaxRougeL, "MaxRougeL must be greater than 0 and at most 1.");
        }

        if (ExamplesPerPrompt is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(ExamplesPerPrompt), ExamplesPerPrompt, "ExamplesPerPrompt must be between 1 and 16.");
        }

        if (MaxAttemptsPerExample is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttemptsPerExample), MaxAttemptsPerExample, "MaxAttemptsPerExample must be between 1 and 100.");
        }
    }
}

/// <summary>What a synthesis run produced.</summary>
/// <param name="Examples">The new examples that passed the filters, in generation order.</param>
/// <param name="Attempts">Generation requests made.</param>
/// <param name="RejectedAsSimilar">Candidates dropped because ROUGE-L against a kept input reached the threshold.</param>
/// <param name="RejectedAsMalformed">Replies that could not be read as an example.</param>
public sealed record SynthesisResult(IReadOnlyList<FewShotExample> Examples, int Attempts, int RejectedAsSimilar, int RejectedAsMalformed);

/// <summary>Completes raw text without applying a chat template (needed for Magpie-style synthesis).</summary>
/// <param name="prompt">The exact text the model continues.</param>
/// <param name="cancellationToken">Cancels generation.</param>
/// <returns>The continuation only.</returns>
public delegate Task<string> RawTextCompletion(string prompt, CancellationToken cancellationToken);

/// <summary>
/// The part of a chat template Magpie needs: the text that opens a user turn (the model, given only this, writes a
/// plausible user request) and the marker that ends the turn.
/// </summary>
/// <param name="UserTurnPrefix">Text that opens a user turn, e.g. "&lt;|user|&gt;\n".</param>
/// <param name="UserTurnEnd">Marker that ends a user turn, e.g. "&lt;|end|&gt;"; the generated request is cut there.</param>
public sealed record MagpieTemplate(string UserTurnPrefix, string UserTurnEnd)
{
    /// <summary>Phi-3 style.</summary>
    public static MagpieTemplate Phi3 { get; } = new("<|user|>\n", "<|end|>");

    /// <summary>ChatML (Qwen 2.5 and others).</summary>
    public static MagpieTemplate ChatML { get; } = new("<|im_start|>user\n", "<|im_end|>");

    /// <summary>Llama 3.x.</summary>
    public static MagpieTemplate Llama3 { get; } = new("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>");
}
