using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Scoring;
using LlmKit.Testing;

namespace LlmKit.Tests.Models;

/// <summary>
/// The official onnxruntime-genai CPU graph form (GroupQueryAttention, share-buffer KV written in place, contrib
/// norms, optional int4 MatMulNBits) runs through the same public API as our Standard form and gives the same tokens.
/// </summary>
public class GraphFormEquivalenceTests
{
    // head_size 16: GroupQueryAttention with fused rotary (do_rotary=1), position_ids absent. GQA (4 heads, 2 kv heads).
    private static readonly LlamaConfig FusedRotary = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 128);

    private static async Task<IReadOnlyList<int>> Greedy(string folder, int[] prompt, int tokens)
    {
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var result = await model.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = tokens });
        return result.TokenIds;
    }

    [Fact]
    public async Task Synthetic_fused_rotary_gqa_form_generates_the_same_64_tokens_as_the_standard_form()
    {
        string standard = TestModels.Synthetic(FusedRotary, seed: 5, OnnxGraphForm.Standard);
        string official = TestModels.Synthetic(FusedRotary, seed: 5, OnnxGraphForm.OrtGenAI);
        using (var probe = OnnxGenAIModel.Load(official))
        {
            Assert.True(probe.SharesKvBuffer);
        }

        int[] prompt = [1, 17, 42, 99, 250, 7, 3, 120];
        var expected = await Greedy(standard, prompt, 64);
        var actual = await Greedy(official, prompt, 64);

        Assert.Equal(64, expected.Count);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task Stories260K_separate_rotary_form_reproduces_the_reference_text()
    {
        string folder = TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.True(model.SharesKvBuffer);
        int[] prompt = model.Tokenizer.Encode(LoadedModels.ReferencePrompt);

        var result = await model.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = LoadedModels.ReferenceSteps - prompt.Length });

        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + result.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shared_buffer_scoring_and_concurrency_match_the_standard_form()
    {
        string folder = TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var official = new OnnxTokenScorer(model);
        var standard = new OnnxTokenScorer(LoadedModels.Stories260K);

        // Shared buffers rewind by length: several continuations on one prefilled prompt.
        string[] continuations = [" a big dog.", " a red ball", " the sun"];
        var a = await official.ScoreManyAsync("Lily went to the park and saw", continuations);
        var b = await standard.ScoreManyAsync("Lily went to the park and saw", continuations);
        for (int i = 0; i < continuations.Length; i++)
        {
            Assert.Equal(b[i].TokenIds, a[i].TokenIds);

            // Different kernels (GQA, contrib norms) in fp32: agreement to 1e-3 in log-probability.
            for (int t = 0; t < a[i].TokenIds.Count; t++)
            {
                Assert.InRange(a[i].LogProbabilities[t], b[i].LogProbabilities[t] - 1e-3f, b[i].LogProbabilities[t] + 1e-3f);
            }
        }

        // Concurrent generations on shared-buffer states (each state has its own IoBinding).
        string[] prompts = ["Once upon a time", "The little dog", "Tom was sad", "Mom said"];
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 40 };
        var sequential = new List<IReadOnlyList<int>>();
        foreach (var p in prompts)
        {
            sequential.Add((await LoadedModels.Stories260K.GenerateAsync(p, options)).TokenIds);
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => model.GenerateAsync(p, options))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(sequential[i], concurrent[i].TokenIds);
        }
    }

    [Fact]
    public async Task Int4_weights_stay_close_to_fp32()
    {
        string folder = TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI, WeightPrecision.Int4);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var int4 = new OnnxTokenScorer(model);
        var fp32 = new OnnxTokenScorer(LoadedModels.Stories260K);
        const string prompt = "Once upon a time, there was a little girl named Lily.";
        const string continuation = " She loved to play outside in the park.";

        var q = await int4.ScoreAsync(prompt, continuation);
        var f = await fp32.ScoreAsync(prompt, continuation);

        // 4-bit blocks of 32 on a 260K model: the mean log-probability moves by well under 0.5 nats per token
        // (measured about 0.1), while a broken quantisation (wrong nibble order, scales) drops it by several nats.
        Assert.InRange(q.MeanLogProbability, f.MeanLogProbability - 0.5, f.MeanLogProbability + 0.5);
    }
}
