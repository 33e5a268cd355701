using LlmKit.Plugins.Compression;
using LlmKit.Plugins.FewShot;
using LlmKit.Plugins.Moderation;

namespace PluginAgent;

/// <summary>What start-up did.</summary>
/// <param name="ModelLoadTime">Loading the model folder.</param>
/// <param name="EmbeddingModel">The embedding generator's model id (all-MiniLM-L6-v2 or llmkit-hashing).</param>
/// <param name="EmbeddingDimensions">Length of its vectors.</param>
/// <param name="EmbeddingLoadTime">Extracting (first run only) and loading it.</param>
/// <param name="SentimentLabels">Ranks on the sentiment scale.</param>
/// <param name="SentimentRows">Labelled rows the head trained on.</param>
/// <param name="SentimentTrainTime">Embedding the rows and training the head.</param>
/// <param name="ModerationWarmUpTime">Training and calibrating the moderator.</param>
/// <param name="ExamplePoolSize">Examples in the few-shot pool.</param>
/// <param name="Context">The fact sheet compressed by the compression plugin.</param>
/// <param name="Instruction">The system instruction of every prompt.</param>
internal sealed record StartupReport(
    TimeSpan ModelLoadTime,
    string EmbeddingModel,
    int EmbeddingDimensions,
    TimeSpan EmbeddingLoadTime,
    int SentimentLabels,
    int SentimentRows,
    TimeSpan SentimentTrainTime,
    TimeSpan ModerationWarmUpTime,
    int ExamplePoolSize,
    CompressionResult Context,
    string Instruction);

/// <summary>A rating on the sentiment scale.</summary>
/// <param name="Label">The predicted label.</param>
/// <param name="Rank">Its index, lowest = 0.</param>
/// <param name="ExpectedRank">Σ P(y &gt; k): a graded score between 0 and the top rank.</param>
internal sealed record SentimentRating(string Label, int Rank, double ExpectedRank);

/// <summary>One input through the pipeline.</summary>
/// <param name="Input">The guest's text.</param>
/// <param name="Blocked">The moderation verdict when the input was refused; null when it passed.</param>
/// <param name="Examples">The few-shot examples placed in the prompt, best first (empty when refused).</param>
/// <param name="Rating">The input's sentiment (null when refused).</param>
/// <param name="Answer">The model's answer, or the refusal.</param>
/// <param name="PromptTokens">Prompt tokens the model read (null when refused).</param>
/// <param name="Generations">Generations the local model ran for this input.</param>
/// <param name="Elapsed">Time of the answer call, filters included.</param>
internal sealed record AgentTurn(
    string Input,
    ModerationResult? Blocked,
    IReadOnlyList<SelectedExample> Examples,
    SentimentRating? Rating,
    string Answer,
    int? PromptTokens,
    long Generations,
    TimeSpan Elapsed);
