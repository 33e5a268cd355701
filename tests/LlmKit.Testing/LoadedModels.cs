using LlmKit.Models;

namespace LlmKit.Testing;

/// <summary>
/// Models loaded once per test process and shared by every test (an <see cref="OnnxGenAIModel"/> is thread-safe).
/// They live until the process ends.
/// </summary>
public static class LoadedModels
{
    private static readonly Lazy<OnnxGenAIModel> Stories = new(() => OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { IntraOpThreads = 1 }));

    /// <summary>stories260K (Standard graph form), one intra-op thread.</summary>
    public static OnnxGenAIModel Stories260K => Stories.Value;

    /// <summary>The prompt of the shared README's reference output.</summary>
    public const string ReferencePrompt = "Once upon a time";

    /// <summary>llama2.c's reference run takes 256 steps counting the prompt's tokens (BOS included).</summary>
    public const int ReferenceSteps = 256;
}
