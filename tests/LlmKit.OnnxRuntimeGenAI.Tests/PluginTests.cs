using LlmKit.Plugins.Compression;
using LlmKit.Scoring;
using LlmKit.Testing;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>A plugin built on ITokenScorer runs unchanged on the onnxruntime-genai engine and decides as it does on LlmKit's own.</summary>
[Collection(OgaModelsCollection.Name)]
public sealed class PluginTests(OgaModels models)
{
    [Fact]
    public async Task Prompt_compression_keeps_the_same_tokens_on_both_engines()
    {
        const string Text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
            "One day, she saw a big, red ball. She wanted to play with it, but it was too high. Lily's mom said, \"Lily, let's go to the park.\"";
        var ours = new PromptCompressor(new OnnxRuntimeGenAITokenScorer(models.Stories260K));
        var llmkit = new PromptCompressor(new OnnxTokenScorer(LoadedModels.Stories260K));

        var a = await ours.CompressAsync(Text, CompressionTarget.Rate(0.5));
        var b = await llmkit.CompressAsync(Text, CompressionTarget.Rate(0.5));

        Assert.Equal(b.Text, a.Text);
        Assert.Equal(b.CompressedTokens, a.CompressedTokens);
        Assert.True(a.CompressedTokens < a.OriginalTokens, $"expected pruning: {a.CompressedTokens} of {a.OriginalTokens} tokens kept");
    }
}
