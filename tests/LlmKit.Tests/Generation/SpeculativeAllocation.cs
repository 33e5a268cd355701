using LlmKit.Generation;
using LlmKit.Models;

namespace LlmKit.Tests.Generation;

/// <summary>The house limit for the decode loop (1 KB per token) with speculation on, shared by the drafting tests.</summary>
internal static class SpeculativeAllocation
{
    public static void AssertUnder1KbPerToken(OnnxGenAIModel model, int[] prompt, GenerationOptions options)
    {
        for (int round = 0; round < 2; round++)
        {
            // Round 0 warms up (JIT, buffers sized to the longest run); round 1 is measured.
            using var generator = model.CreateGenerator(prompt, options);
            generator.GenerateNextToken();
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (!generator.IsDone)
            {
                generator.GenerateNextToken();
            }

            long perToken = (GC.GetAllocatedBytesForCurrentThread() - before) / (generator.GeneratedCount - 1);
            Assert.True(generator.AcceptedDraftTokens > 0, "no draft was accepted, so speculation was not exercised");
            if (round == 1)
            {
                Assert.InRange(perToken, 0, 1024);
            }
        }
    }
}
